using System.Data.Common;
using Npgsql;
using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.PostgreSql;

/// <summary>
/// The offsets table <c>recall_projection_offsets</c> in a PostgreSQL schema, for the exactly-once
/// driver, the offset store and the inspector: a pooled connection per call from a pool of its own
/// (<see cref="PostgreSqlProjectionDatabase.MaxConnections"/>), the table created at the first.
/// </summary>
internal sealed class PostgreSqlOffsetsDialect(PostgreSqlProjectionDatabase database) : OffsetsDialect
{
    private readonly string _quotedSchema = database.QuotedSchema;
    private readonly NpgsqlDataSource _source = database.CreateDataSource();
    private volatile bool _tableReady;

    public override async Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _source.OpenConnectionAsync(cancellationToken);
        if (!_tableReady)
        {
            try
            {
                await EnsureAsync(connection, database, cancellationToken);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }

            _tableReady = true;
        }

        return connection;
    }

    public override ValueTask ReleaseAsync(DbConnection connection) => connection.DisposeAsync();

    public override async Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(cancellationToken);

    public override Task<StoredProjection?> ReadAsync(DbConnection connection, DbTransaction? transaction, ProjectionId id, CancellationToken cancellationToken) =>
        ReadAsync((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction, _quotedSchema, id, cancellationToken);

    public override Task<bool> AdvanceAsync(
        DbConnection connection, DbTransaction transaction, ProjectionId id, Offset expected, Offset offset, DateTimeOffset eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken) =>
        AdvanceAsync((NpgsqlConnection)connection, (NpgsqlTransaction)transaction, _quotedSchema, id, expected, offset, eventTimestamp, now, cancellationToken);

    public override Task SaveAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, Offset offset, DateTimeOffset? eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken) =>
        SaveAsync((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction, _quotedSchema, id, offset, eventTimestamp, now, cancellationToken);

    public override Task SaveStateAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, ProjectionState state, string? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        SaveStateAsync((NpgsqlConnection)connection, (NpgsqlTransaction?)transaction, _quotedSchema, id, state, error, now, cancellationToken);

    public override ValueTask DisposeAsync() => _source.DisposeAsync();

    private const string Columns = "projection_name, projection_key, offset_transaction, offset_ordering, event_timestamp, state, last_error, updated_at";

    private static string CreateScript(string quotedSchema) => $"""
        CREATE TABLE IF NOT EXISTS {quotedSchema}.recall_projection_offsets (
            projection_name    text        COLLATE "C" NOT NULL,
            projection_key     text        COLLATE "C" NOT NULL,
            offset_transaction bigint      NOT NULL DEFAULT 0, -- the offset of the last handled event (0, 0: none)
            offset_ordering    bigint      NOT NULL DEFAULT 0,
            event_timestamp    timestamptz NULL,               -- when that event was persisted
            state              text        NOT NULL,           -- running, paused, failed, stopped
            last_error         text        NULL,               -- the last failure, kept after recovery
            updated_at         timestamptz NOT NULL,
            PRIMARY KEY (projection_name, projection_key)
        );
        """;

    public static async Task<bool> ExistsAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken)
    {
        // The catalog itself: a name lookup could use a cached "not found" from before another process created the table.
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'recall_projection_offsets')",
            connection);
        command.Parameters.AddWithValue(schema);
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>Creates the schema (if missing) and the table (if missing), once even when several processes start together.</summary>
    private static async Task EnsureAsync(NpgsqlConnection connection, PostgreSqlProjectionDatabase database, CancellationToken cancellationToken)
    {
        if (await ExistsAsync(connection, database.Schema, cancellationToken))
        {
            return;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('recall.projection_offsets:' || $1))", connection, transaction))
        {
            command.Parameters.AddWithValue(database.Schema);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", connection, transaction))
        {
            command.Parameters.AddWithValue(database.Schema);
            if (await command.ExecuteScalarAsync(cancellationToken) is not true)
            {
                // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists: only when it is missing.
                command.CommandText = $"CREATE SCHEMA IF NOT EXISTS {database.QuotedSchema}";
                command.Parameters.Clear();
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await using (var command = new NpgsqlCommand(CreateScript(database.QuotedSchema), connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<StoredProjection?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string quotedSchema, ProjectionId id, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT {Columns} FROM {quotedSchema}.recall_projection_offsets WHERE projection_name = $1 AND projection_key = $2", connection, transaction);
        command.Parameters.AddWithValue(id.Name);
        command.Parameters.AddWithValue(id.Key);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRow(reader) : null;
    }

    public static async Task<IReadOnlyList<StoredProjection>> ReadAllAsync(NpgsqlConnection connection, string quotedSchema, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM {quotedSchema}.recall_projection_offsets ORDER BY projection_name, projection_key", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<StoredProjection>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(ReadRow(reader));
        }

        return rows;
    }

    /// <summary>Moves the offset from <paramref name="expected"/> to <paramref name="offset"/>; false when the stored offset is not <paramref name="expected"/>.</summary>
    private static async Task<bool> AdvanceAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string quotedSchema, ProjectionId id, Offset expected, Offset offset, DateTimeOffset eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            UPDATE {quotedSchema}.recall_projection_offsets
            SET offset_transaction = $3, offset_ordering = $4, event_timestamp = $5,
                state = CASE state WHEN 'paused' THEN 'paused' ELSE 'running' END, updated_at = $6
            WHERE projection_name = $1 AND projection_key = $2 AND offset_transaction = $7 AND offset_ordering = $8
            """,
            connection,
            transaction);
        command.Parameters.AddWithValue(id.Name);
        command.Parameters.AddWithValue(id.Key);
        command.Parameters.AddWithValue(offset.Transaction);
        command.Parameters.AddWithValue(offset.Ordering);
        command.Parameters.AddWithValue(eventTimestamp.ToUniversalTime());
        command.Parameters.AddWithValue(now.ToUniversalTime());
        command.Parameters.AddWithValue(expected.Transaction);
        command.Parameters.AddWithValue(expected.Ordering);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Stores <paramref name="offset"/> whatever the stored one is, creating the row if missing.</summary>
    private static async Task SaveAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string quotedSchema, ProjectionId id, Offset offset, DateTimeOffset? eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO {quotedSchema}.recall_projection_offsets AS o ({Columns})
            VALUES ($1, $2, $3, $4, $5, 'running', NULL, $6)
            ON CONFLICT (projection_name, projection_key) DO UPDATE
            SET offset_transaction = excluded.offset_transaction, offset_ordering = excluded.offset_ordering,
                event_timestamp = excluded.event_timestamp,
                state = CASE o.state WHEN 'paused' THEN 'paused' ELSE 'running' END, updated_at = excluded.updated_at
            """,
            connection,
            transaction);
        command.Parameters.AddWithValue(id.Name);
        command.Parameters.AddWithValue(id.Key);
        command.Parameters.AddWithValue(offset.Transaction);
        command.Parameters.AddWithValue(offset.Ordering);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?> { TypedValue = eventTimestamp?.ToUniversalTime(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        command.Parameters.AddWithValue(now.ToUniversalTime());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Records the state (and the error when not null), creating the row at offset 0 if missing.</summary>
    private static async Task SaveStateAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string quotedSchema, ProjectionId id, ProjectionState state, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"""
            INSERT INTO {quotedSchema}.recall_projection_offsets AS o ({Columns})
            VALUES ($1, $2, 0, 0, NULL, $3, $4, $5)
            ON CONFLICT (projection_name, projection_key) DO UPDATE
            SET state = excluded.state, last_error = coalesce(excluded.last_error, o.last_error), updated_at = excluded.updated_at
            """,
            connection,
            transaction);
        command.Parameters.AddWithValue(id.Name);
        command.Parameters.AddWithValue(id.Key);
        command.Parameters.AddWithValue(ProjectionStates.ToText(state));
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = error, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.AddWithValue(now.ToUniversalTime());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static StoredProjection ReadRow(NpgsqlDataReader reader) => new(
        new ProjectionId(reader.GetString(0), reader.GetString(1)),
        new Offset(reader.GetInt64(2), reader.GetInt64(3)),
        reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4),
        ProjectionStates.FromText(reader.GetString(5)),
        reader.IsDBNull(6) ? null : reader.GetString(6),
        reader.GetFieldValue<DateTimeOffset>(7));
}
