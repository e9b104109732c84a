using Npgsql;
using Recall.Persistence.Leases;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// Leases in the Recall schema of a PostgreSQL database (table <c>cluster_leases</c>), for nodes on
/// many machines: each call is one conditional statement, rows locks order concurrent callers, and
/// the server's clock (<c>clock_timestamp()</c>) decides expiry.
/// </summary>
public sealed class PostgreSqlLeaseStore : ILeaseStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly string _acquireSql;
    private readonly string _renewSql;
    private readonly string _releaseSql;
    private readonly string _readSql;
    private readonly string _readAllSql;

    /// <summary>Opens the lease store in the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    public PostgreSqlLeaseStore(PostgreSqlStoreOptions options)
    {
        _database = new PostgreSqlDatabase(options, smallPool: true); // few, short statements: four connections at most
        var s = _database.Schema;
        _acquireSql = $"""
            INSERT INTO {s}.cluster_leases AS l (name, holder, token, expires_at) VALUES ($1, $2, 1, clock_timestamp() + $3)
            ON CONFLICT (name) DO UPDATE SET
                token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END,
                holder = excluded.holder,
                expires_at = excluded.expires_at
            WHERE l.holder = excluded.holder OR l.expires_at < clock_timestamp()
            RETURNING holder, token, expires_at
            """;
        _renewSql = $"""
            UPDATE {s}.cluster_leases SET expires_at = clock_timestamp() + $3
            WHERE name = $1 AND holder = $2 AND token = $4 AND expires_at >= clock_timestamp()
            RETURNING holder, token, expires_at
            """;
        _releaseSql = $"""
            UPDATE {s}.cluster_leases SET expires_at = clock_timestamp() - interval '1 microsecond'
            WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at >= clock_timestamp()
            """;
        _readSql = $"SELECT holder, token, expires_at FROM {s}.cluster_leases WHERE name = $1";
        _readAllSql = $"SELECT name, holder, token, expires_at FROM {s}.cluster_leases ORDER BY name";
    }

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken) =>
        WriteAsync(_acquireSql, name, holder, duration, null, $"acquiring lease '{name}'", cancellationToken);

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken) =>
        WriteAsync(_renewSql, name, holder, duration, fencingToken, $"renewing lease '{name}'", cancellationToken);

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken) =>
        await _database.WriteAsync(
            $"releasing lease '{name}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_releaseSql, connection);
                command.Parameters.AddWithValue(name);
                command.Parameters.AddWithValue(holder);
                command.Parameters.AddWithValue(fencingToken);
                return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
            },
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            $"reading lease '{name}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_readSql, connection);
                command.Parameters.AddWithValue(name);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                return await reader.ReadAsync(cancellationToken) ? Record(name, reader, 0) : null;
            },
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            "reading the leases",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_readAllSql, connection);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                var found = new List<LeaseRecord>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    found.Add(Record(reader.GetString(0), reader, 1));
                }

                return found;
            },
            cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private async ValueTask<LeaseRecord?> WriteAsync(string sql, string name, string holder, TimeSpan duration, long? token, string operation, CancellationToken cancellationToken)
    {
        LeaseArguments.Check(name, holder, duration);
        return await _database.WriteAsync(
            operation,
            async connection =>
            {
                await using var command = new NpgsqlCommand(sql, connection);
                command.Parameters.AddWithValue(name);
                command.Parameters.AddWithValue(holder);
                command.Parameters.AddWithValue(duration);
                if (token is { } t)
                {
                    command.Parameters.AddWithValue(t);
                }

                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                return await reader.ReadAsync(cancellationToken) ? Record(name, reader, 0) : null;
            },
            cancellationToken);
    }

    private static LeaseRecord Record(string name, NpgsqlDataReader reader, int first) =>
        new(name, reader.GetString(first), reader.GetInt64(first + 1), reader.GetFieldValue<DateTimeOffset>(first + 2));
}
