using Npgsql;
using Recall.Persistence.Journal;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// Reads a PostgreSQL journal for people and tools (the <c>recall journal --postgres</c> commands):
/// every query runs in a read-only transaction, and nothing is ever created: a missing schema or a
/// schema without Recall's tables is an error naming it, as is one of a newer version.
/// </summary>
/// <remarks>
/// The global order shown by <see cref="TailAsync"/> is the <c>ordering</c> column, the order in which
/// rows were inserted. Concurrent writers may commit out of that order, which is fine for reading
/// by eye; the read side follows (transaction_id, ordering) instead (docs/postgresql.md).
/// </remarks>
public sealed class PostgreSqlJournalInspector : IJournalInspector
{
    private readonly PostgreSqlDatabase _database;

    private PostgreSqlJournalInspector(PostgreSqlDatabase database) => _database = database;

    /// <summary>Where the tables are, for messages: <c>schema 's' of database 'd' on host:port</c> (never the password).</summary>
    public string Location => _database.Location;

    /// <summary>
    /// Connects with <paramref name="connectionString"/> and checks that <paramref name="schema"/>
    /// holds a Recall journal this version can read. Creates nothing.
    /// </summary>
    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=db;Database=shop;Username=app</c>.</param>
    /// <param name="schema">The schema of the store's tables; default <c>recall</c>, as <see cref="PostgreSqlStoreOptions.Schema"/>.</param>
    /// <param name="cancellationToken">Cancels the connection and the check.</param>
    /// <exception cref="ArgumentException">The connection string or the schema name is not valid.</exception>
    /// <exception cref="PostgreSqlStoreException">The server cannot be reached or refuses the login, the database or schema is missing, the schema has no Recall tables, or they are of a newer version.</exception>
    public static async Task<PostgreSqlJournalInspector> OpenAsync(string connectionString, string schema = "recall", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        ArgumentNullException.ThrowIfNull(schema);
        var options = new PostgreSqlStoreOptions
        {
            ConnectionString = connectionString,
            Schema = schema,
            CreateSchemaIfMissing = false,
            MaxReadConnections = 1,
            MaxWriteConnections = 1,
        };
        var database = new PostgreSqlDatabase(options, checkSchema: false);
        try
        {
            await database.ReadAsync("journal inspection", connection => CheckAsync(connection, options.Schema, database.Location, cancellationToken), cancellationToken);
            return new PostgreSqlJournalInspector(database);
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every persistence id with stored events, in order of first appearance.</summary>
    /// <exception cref="PostgreSqlStoreException">The query failed; the message names the server.</exception>
    public Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<(string, long, long)>(
            $"""
            SELECT persistence_id, count(*), max(sequence_number) FROM {_database.Schema}.journal
            GROUP BY persistence_id ORDER BY min(ordering)
            """,
            _ => { },
            reader => (reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)),
            cancellationToken);

    /// <summary>The stored events of <paramref name="persistenceId"/> in sequence order (empty when it has none).</summary>
    /// <exception cref="PostgreSqlStoreException">The query failed; the message names the server.</exception>
    public Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return ReadAsync(
            $"{SelectRows} WHERE persistence_id = $1 ORDER BY sequence_number",
            command => command.Parameters.AddWithValue(persistenceId),
            Row,
            cancellationToken);
    }

    /// <summary>The last <paramref name="count"/> events of the journal, oldest first (in the order they were inserted).</summary>
    /// <exception cref="PostgreSqlStoreException">The query failed; the message names the server.</exception>
    public async Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var newestFirst = await ReadAsync(
            $"{SelectRows} ORDER BY ordering DESC LIMIT $1",
            command => command.Parameters.AddWithValue((long)count),
            Row,
            cancellationToken);
        return [.. newestFirst.Reverse()];
    }

    /// <summary>Whether the schema has the table <paramref name="table"/> (older versions lack the cluster's).</summary>
    private async Task<bool> ExistsAsync(string table, CancellationToken cancellationToken) =>
        (await ReadAsync(
            "SELECT to_regclass($1) IS NOT NULL",
            command => command.Parameters.AddWithValue($"{_database.Schema}.{table}"),
            reader => reader.GetBoolean(0),
            cancellationToken))[0];

    /// <summary>The cluster's leases in the schema, by name (none in a schema of version 2 or older).</summary>
    /// <exception cref="PostgreSqlStoreException">The query failed; the message names the server.</exception>
    public async Task<IReadOnlyList<Leases.LeaseRecord>> LeasesAsync(CancellationToken cancellationToken = default)
    {
        if (!await ExistsAsync("cluster_leases", cancellationToken))
        {
            return [];
        }

        return await ReadAsync(
            $"SELECT name, holder, token, expires_at FROM {_database.Schema}.cluster_leases ORDER BY name",
            _ => { },
            reader => new Leases.LeaseRecord(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3)),
            cancellationToken);
    }

    /// <summary>The shards of cluster sharding: home and remembered entities (none in a schema without the tables).</summary>
    public async Task<IReadOnlyList<Sharding.ShardSummary>> ShardsAsync(CancellationToken cancellationToken = default)
    {
        if (!await ExistsAsync("cluster_shards", cancellationToken))
        {
            return [];
        }

        return await ReadAsync(
            Sharding.ShardSummary.Sql(_database.Schema + "."),
            _ => { },
            reader => new Sharding.ShardSummary(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt32(3)),
            cancellationToken);
    }

    /// <summary>The cluster's members, by address (none in a schema without the table).</summary>
    public async Task<IReadOnlyList<Membership.MemberRecord>> MembersAsync(CancellationToken cancellationToken = default)
    {
        if (!await ExistsAsync("cluster_members", cancellationToken))
        {
            return [];
        }

        return await _database.ReadAsync(
            "reading the members",
            async connection =>
            {
                await using var command = new NpgsqlCommand($"SELECT {PostgreSqlMembershipStore.Columns} FROM {_database.Schema}.cluster_members ORDER BY address", connection);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                return await PostgreSqlMembershipStore.RecordsAsync(reader, cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private string SelectRows => $"SELECT ordering, persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags FROM {_database.Schema}.journal";

    private static StoredEventRow Row(NpgsqlDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetInt64(2),
        reader.GetString(3),
        new DateTimeOffset(DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(4), DateTimeKind.Utc)),
        reader.GetString(5),
        StoredEventRow.PayloadAsText(reader.GetFieldValue<byte[]>(6)),
        reader.GetFieldValue<string[]>(7));

    private Task<IReadOnlyList<T>> ReadAsync<T>(string sql, Action<NpgsqlCommand> parameters, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken) =>
        _database.ReadAsync<IReadOnlyList<T>>(
            "journal inspection",
            async connection =>
            {
                // A read-only transaction: the server itself refuses any change, whatever the SQL.
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
                {
                    await readOnly.ExecuteNonQueryAsync(cancellationToken);
                }

                var rows = new List<T>();
                await using (var command = new NpgsqlCommand(sql, connection, transaction))
                {
                    parameters(command);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        rows.Add(read(reader));
                    }
                }

                await transaction.CommitAsync(cancellationToken);
                return rows;
            },
            cancellationToken);

    private static async Task<bool> CheckAsync(NpgsqlConnection connection, string schema, string location, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
                   EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'recall_schema')
            """,
            connection);
        command.Parameters.AddWithValue(schema);
        bool schemaExists, tablesExist;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            schemaExists = reader.GetBoolean(0);
            tablesExist = reader.GetBoolean(1);
        }

        if (!schemaExists)
        {
            throw new PostgreSqlStoreException($"The {location} does not exist: nothing to read (is the schema name right? --schema / PostgreSqlStoreOptions.Schema).");
        }

        if (!tablesExist)
        {
            throw new PostgreSqlStoreException($"The {location} has no Recall journal (no recall_schema table).");
        }

        command.CommandText = $"SELECT max(version) FROM {PostgreSqlSchema.Quote(schema)}.recall_schema";
        command.Parameters.Clear();
        var version = await command.ExecuteScalarAsync(cancellationToken) is int found ? found : 0;
        if (version > PostgreSqlSchema.Version)
        {
            throw new PostgreSqlStoreException(
                $"The {location} has Recall schema version {version}, written by a newer Recall; this version reads up to {PostgreSqlSchema.Version}.");
        }

        return true;
    }
}
