using Microsoft.Data.Sqlite;
using Recall.Persistence.Leases;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// Leases in a Recall SQLite file (table <c>cluster_leases</c>), for several processes on one
/// machine: the file's write lock orders them and SQLite's clock (<c>julianday('now')</c>, one value
/// per statement) decides expiry. Each call is one statement.
/// </summary>
public sealed class SqliteLeaseStore : ILeaseStore, IAsyncDisposable
{
    // Unix milliseconds of SQLite's clock; 'now' is the same everywhere in one statement.
    private const string Now = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    private const string AcquireSql = $"""
        INSERT INTO cluster_leases (name, holder, token, expires_at) VALUES ($name, $holder, 1, {Now} + $ms)
        ON CONFLICT (name) DO UPDATE SET
            token = CASE WHEN holder = excluded.holder THEN token ELSE token + 1 END,
            holder = excluded.holder,
            expires_at = excluded.expires_at
        WHERE holder = excluded.holder OR expires_at < {Now}
        RETURNING holder, token, expires_at
        """;

    private const string RenewSql = $"""
        UPDATE cluster_leases SET expires_at = {Now} + $ms
        WHERE name = $name AND holder = $holder AND token = $token AND expires_at >= {Now}
        RETURNING holder, token, expires_at
        """;

    private const string ReleaseSql = $"""
        UPDATE cluster_leases SET expires_at = {Now} - 1
        WHERE name = $name AND holder = $holder AND token = $token AND expires_at >= {Now}
        """;

    private readonly SqliteDatabase _database;

    /// <summary>Opens (or creates) the Recall file of <paramref name="options"/>; its schema includes the leases table.</summary>
    public SqliteLeaseStore(SqliteStoreOptions options) => _database = new SqliteDatabase(options);

    /// <summary>The full path of the database file.</summary>
    public string Path => _database.Path;

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken) =>
        Write(name, AcquireSql, holder, null, duration);

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken) =>
        Write(name, RenewSql, holder, fencingToken, duration);

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken) =>
        await _database.WriteAsync(connection =>
        {
            using var command = Command(connection, ReleaseSql, name, holder, fencingToken, null);
            return command.ExecuteNonQuery() == 1;
        });

    /// <inheritdoc />
    public async ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        (await ReadAsync("WHERE name = $name", name, cancellationToken)).SingleOrDefault();

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken) =>
        await ReadAsync("", null, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private async ValueTask<LeaseRecord?> Write(string name, string sql, string holder, long? token, TimeSpan duration)
    {
        LeaseArguments.Check(name, holder, duration);
        return await _database.WriteAsync(connection =>
        {
            using var command = Command(connection, sql, name, holder, token, duration);
            using var reader = command.ExecuteReader();
            return reader.Read() ? Record(name, reader, 0) : null;
        });
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, string name, string holder, long? token, TimeSpan? duration)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$holder", holder);
        if (token is { } t)
        {
            command.Parameters.AddWithValue("$token", t);
        }

        if (duration is { } d)
        {
            command.Parameters.AddWithValue("$ms", (long)Math.Ceiling(d.TotalMilliseconds));
        }

        return command;
    }

    private async Task<List<LeaseRecord>> ReadAsync(string where, string? name, CancellationToken cancellationToken)
    {
        await using var connection = _database.OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name, holder, token, expires_at FROM cluster_leases {where} ORDER BY name";
        if (name is not null)
        {
            command.Parameters.AddWithValue("$name", name);
        }

        var found = new List<LeaseRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(Record(reader.GetString(0), reader, 1));
        }

        return found;
    }

    private static LeaseRecord Record(string name, SqliteDataReader reader, int first) =>
        new(name, reader.GetString(first), reader.GetInt64(first + 1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 2)));
}
