using Npgsql;
using Recall.Persistence.Membership;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The cluster's members in the Recall schema of a PostgreSQL database (table <c>cluster_members</c>),
/// for nodes on many machines: each call is one conditional statement, row locks order concurrent
/// callers, and the server's clock (<c>clock_timestamp()</c>) decides who is silent.
/// </summary>
public sealed class PostgreSqlMembershipStore : IMembershipStore, IAsyncDisposable
{
    internal const string Columns = "address, incarnation, status, roles, joined_at, heartbeat_at";
    private readonly PostgreSqlDatabase _database;
    private readonly string _joinSql;
    private readonly string _heartbeatSql;
    private readonly string _setStatusSql;
    private readonly string _downSql;
    private readonly string _readAllSql;

    /// <summary>Opens the membership store in the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    public PostgreSqlMembershipStore(PostgreSqlStoreOptions options)
    {
        _database = new PostgreSqlDatabase(options, smallPool: true); // few, short statements: four connections at most
        var s = _database.Schema;

        // One row per address. The same incarnation joining again keeps its state (a retried join);
        // another takes the address only from a member that is gone or silent.
        _joinSql = $"""
            INSERT INTO {s}.cluster_members AS m ({Columns}) VALUES ($1, $2, 0, $3, clock_timestamp(), clock_timestamp())
            ON CONFLICT (address) DO UPDATE SET
                status = CASE WHEN m.incarnation = excluded.incarnation THEN m.status ELSE 0 END,
                joined_at = CASE WHEN m.incarnation = excluded.incarnation THEN m.joined_at ELSE excluded.joined_at END,
                incarnation = excluded.incarnation,
                roles = excluded.roles,
                heartbeat_at = excluded.heartbeat_at
            WHERE (m.incarnation = excluded.incarnation AND m.status < 4)
               OR (m.incarnation <> excluded.incarnation AND (m.status >= 4 OR m.heartbeat_at < clock_timestamp() - $4))
            RETURNING {Columns}
            """;
        _heartbeatSql = $"""
            UPDATE {s}.cluster_members SET heartbeat_at = clock_timestamp()
            WHERE address = $1 AND incarnation = $2 AND status < 4
            RETURNING {Columns}
            """;
        _setStatusSql = $"""
            UPDATE {s}.cluster_members SET status = $3
            WHERE address = $1 AND incarnation = $2 AND status < 4 AND status < $3
            RETURNING {Columns}
            """;
        _downSql = $"""
            UPDATE {s}.cluster_members SET status = 5
            WHERE status < 4 AND heartbeat_at < clock_timestamp() - $1
            RETURNING {Columns}
            """;
        _readAllSql = $"SELECT {Columns} FROM {s}.cluster_members ORDER BY address";
    }

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> TryJoinAsync(string address, long incarnation, IReadOnlyList<string> roles, TimeSpan staleAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckRoles(address, roles);
        MembershipArguments.CheckPositive(staleAfter, nameof(staleAfter));
        return (await WriteAsync($"joining as {address}", _joinSql, [address, incarnation, roles.ToArray(), staleAfter], cancellationToken)).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> HeartbeatAsync(string address, long incarnation, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        return (await WriteAsync($"renewing the heartbeat of {address}", _heartbeatSql, [address, incarnation], cancellationToken)).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<MemberRecord?> SetStatusAsync(string address, long incarnation, MemberStatus status, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckForward(address, status);
        return (await WriteAsync($"moving {address} to {status}", _setStatusSql, [address, incarnation, (short)status], cancellationToken)).SingleOrDefault();
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberRecord>> DownUnresponsiveAsync(TimeSpan downAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.CheckPositive(downAfter, nameof(downAfter));
        return await WriteAsync("marking silent members down", _downSql, [downAfter], cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<MemberRecord>> ReadAllAsync(CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            "reading the members",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_readAllSql, connection);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                return await RecordsAsync(reader, cancellationToken);
            },
            cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<List<MemberRecord>> WriteAsync(string operation, string sql, object[] parameters, CancellationToken cancellationToken) =>
        _database.WriteAsync(
            operation,
            async connection =>
            {
                await using var command = new NpgsqlCommand(sql, connection);
                foreach (var parameter in parameters)
                {
                    command.Parameters.AddWithValue(parameter);
                }

                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                return await RecordsAsync(reader, cancellationToken);
            },
            cancellationToken);

    internal static async Task<List<MemberRecord>> RecordsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var found = new List<MemberRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(new MemberRecord(
                reader.GetString(0),
                reader.GetInt64(1),
                (MemberStatus)reader.GetInt16(2),
                reader.GetFieldValue<string[]>(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return found;
    }
}
