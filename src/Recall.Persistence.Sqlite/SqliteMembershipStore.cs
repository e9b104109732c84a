using Microsoft.Data.Sqlite;
using Recall.Persistence.Membership;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// The cluster's members in a Recall SQLite file (table <c>cluster_members</c>), for several
/// processes on one machine: the file's write lock orders them and SQLite's clock decides who is
/// silent. Each call is one statement.
/// </summary>
public sealed class SqliteMembershipStore : IMembershipStore, IAsyncDisposable
{
    // Unix milliseconds of SQLite's clock; 'now' is the same everywhere in one statement.
    private const string Now = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
    internal const string Columns = "address, incarnation, status, roles, joined_at, heartbeat_at";

    // One row per address. The same incarnation joining again keeps its state (a retried join);
    // another takes the address only from a member that is gone or silent.
    private const string JoinSql = $"""
        INSERT INTO cluster_members ({Columns}) VALUES ($address, $incarnation, 0, $roles, {Now}, {Now})
        ON CONFLICT (address) DO UPDATE SET
            status = CASE WHEN incarnation = excluded.incarnation THEN status ELSE 0 END,
            joined_at = CASE WHEN incarnation = excluded.incarnation THEN joined_at ELSE excluded.joined_at END,
            incarnation = excluded.incarnation,
            roles = excluded.roles,
            heartbeat_at = excluded.heartbeat_at
        WHERE (incarnation = excluded.incarnation AND status < 4)
           OR (incarnation <> excluded.incarnation AND (status >= 4 OR heartbeat_at < {Now} - $ms))
        RETURNING {Columns}
        """;

    private const string HeartbeatSql = $"""
        UPDATE cluster_members SET heartbeat_at = {Now}
        WHERE address = $address AND incarnation = $incarnation AND status < 4
        RETURNING {Columns}
        """;

    private const string SetStatusSql = $"""
        UPDATE cluster_members SET status = $status
        WHERE address = $address AND incarnation = $incarnation AND status < 4 AND status < $status
        RETURNING {Columns}
        """;

    private const string DownSql = $"""
        UPDATE cluster_members SET status = 5
        WHERE status < 4 AND heartbeat_at < {Now} - $ms
        RETURNING {Columns}
        """;

    private readonly SqliteDatabase _database;

    /// <summary>Opens (or creates) the Recall file of <paramref name="options"/>; its schema includes the members table.</summary>
    public SqliteMembershipStore(SqliteStoreOptions options) => _database = new SqliteDatabase(options);

    /// <summary>The full path of the database file.</summary>
    public string Path => _database.Path;

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> TryJoinAsync(string address, long incarnation, IReadOnlyList<string> roles, TimeSpan staleAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckRoles(address, roles);
        MembershipArguments.CheckPositive(staleAfter, nameof(staleAfter));
        return (await WriteAsync(JoinSql, c =>
        {
            Member(c, address, incarnation);
            c.Parameters.AddWithValue("$roles", string.Join(',', roles));
            c.Parameters.AddWithValue("$ms", Milliseconds(staleAfter));
        })).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> HeartbeatAsync(string address, long incarnation, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        return (await WriteAsync(HeartbeatSql, c => Member(c, address, incarnation))).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> SetStatusAsync(string address, long incarnation, MemberStatus status, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckForward(address, status);
        return (await WriteAsync(SetStatusSql, c =>
        {
            Member(c, address, incarnation);
            c.Parameters.AddWithValue("$status", (int)status);
        })).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberRecord>> DownUnresponsiveAsync(TimeSpan downAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.CheckPositive(downAfter, nameof(downAfter));
        return await WriteAsync(DownSql, c => c.Parameters.AddWithValue("$ms", Milliseconds(downAfter)));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        await using var connection = _database.OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM cluster_members ORDER BY address";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return Records(reader);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<List<MemberRecord>> WriteAsync(string sql, Action<SqliteCommand> parameters) =>
        _database.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            parameters(command);
            using var reader = command.ExecuteReader();
            return Records(reader);
        });

    private static void Member(SqliteCommand command, string address, long incarnation)
    {
        command.Parameters.AddWithValue("$address", address);
        command.Parameters.AddWithValue("$incarnation", incarnation);
    }

    private static long Milliseconds(TimeSpan value) => (long)Math.Ceiling(value.TotalMilliseconds);

    internal static List<MemberRecord> Records(SqliteDataReader reader)
    {
        var found = new List<MemberRecord>();
        while (reader.Read())
        {
            var roles = reader.GetString(3);
            found.Add(new MemberRecord(
                reader.GetString(0),
                reader.GetInt64(1),
                (MemberStatus)reader.GetInt32(2),
                roles.Length == 0 ? [] : roles.Split(','),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5))));
        }

        return found;
    }
}
