using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.Sqlite;

/// <summary>
/// The offsets table <c>recall_projection_offsets</c> in a SQLite file, for the exactly-once driver,
/// the offset store and the inspector. SQLite reads and writes are synchronous: the calls complete
/// before they return.
/// </summary>
/// <param name="database">The file and how to open it.</param>
/// <param name="keepConnection">
/// True for a projection's driver: one connection for the whole run (calls come one at a time),
/// dropped by <see cref="ResetAsync"/>. False for an offset store called from any thread: a pooled
/// connection per call.
/// </param>
internal sealed class SqliteOffsetsDialect(SqliteProjectionDatabase database, bool keepConnection) : OffsetsDialect
{
    private SqliteConnection? _kept;
    private volatile bool _tableReady;

    private const string Create = """
        CREATE TABLE IF NOT EXISTS recall_projection_offsets (
            projection_name    TEXT    NOT NULL,
            projection_key     TEXT    NOT NULL,
            offset_transaction INTEGER NOT NULL DEFAULT 0, -- the offset of the last handled event (0, 0: none)
            offset_ordering    INTEGER NOT NULL DEFAULT 0,
            event_timestamp    INTEGER NULL,              -- when that event was persisted, UTC ticks
            state              TEXT    NOT NULL,          -- running, paused, failed, stopped
            last_error         TEXT    NULL,              -- the last failure, kept after recovery
            updated_at         INTEGER NOT NULL,          -- UTC ticks
            PRIMARY KEY (projection_name, projection_key)
        ) WITHOUT ROWID;
        """;

    private const string Columns = "projection_name, projection_key, offset_transaction, offset_ordering, event_timestamp, state, last_error, updated_at";

    public override Task<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_kept is not null)
        {
            return Task.FromResult<DbConnection>(_kept);
        }

        var connection = Open(database);
        if (!_tableReady || keepConnection)
        {
            try
            {
                EnsureTable(connection, null);
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            _tableReady = true;
        }

        if (keepConnection)
        {
            _kept = connection;
        }

        return Task.FromResult<DbConnection>(connection);
    }

    public override ValueTask ReleaseAsync(DbConnection connection) =>
        keepConnection ? ValueTask.CompletedTask : connection.DisposeAsync();

    public override async ValueTask ResetAsync()
    {
        if (_kept is not null)
        {
            await _kept.DisposeAsync();
            _kept = null;
        }
    }

    public override Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // BEGIN IMMEDIATE takes the write lock now (waiting up to the busy timeout): a deferred
        // transaction that reads first could not upgrade once the journal's writer committed.
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override Task<StoredProjection?> ReadAsync(DbConnection connection, DbTransaction? transaction, ProjectionId id, CancellationToken cancellationToken) =>
        Task.FromResult(Read((SqliteConnection)connection, (SqliteTransaction?)transaction, id));

    public override Task<bool> AdvanceAsync(
        DbConnection connection, DbTransaction transaction, ProjectionId id, Offset expected, Offset offset, DateTimeOffset eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken) =>
        Task.FromResult(Advance((SqliteConnection)connection, (SqliteTransaction)transaction, id, expected, offset, eventTimestamp, now));

    public override Task SaveAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, Offset offset, DateTimeOffset? eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken)
    {
        Save((SqliteConnection)connection, (SqliteTransaction?)transaction, id, offset, eventTimestamp, now);
        return Task.CompletedTask;
    }

    public override Task SaveStateAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, ProjectionState state, string? error, DateTimeOffset now, CancellationToken cancellationToken)
    {
        SaveState((SqliteConnection)connection, (SqliteTransaction?)transaction, id, state, error, now);
        return Task.CompletedTask;
    }

    public override ValueTask DisposeAsync() => ResetAsync();

    private static SqliteConnection Open(SqliteProjectionDatabase database)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = database.Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(database.BusyTimeout.TotalSeconds),
        }.ToString());
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            var busy = ((long)database.BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            pragma.CommandText = $"PRAGMA busy_timeout = {busy}; PRAGMA synchronous = {(database.FullSync ? "FULL" : "NORMAL")};";
            pragma.ExecuteNonQuery();

            // Look before changing: the journal mode is written into the file's header. A new file,
            // a journal's (recall_schema) or one that holds only the offsets gets WAL; a database
            // with other tables (the read model's own) keeps the mode its owner chose.
            pragma.CommandText = """
                SELECT count(*) = 0 OR sum(name = 'recall_schema') > 0 OR count(*) = sum(name = 'recall_projection_offsets')
                FROM sqlite_master WHERE type = 'table'
                """;
            if (Convert.ToInt64(pragma.ExecuteScalar(), CultureInfo.InvariantCulture) == 1)
            {
                pragma.CommandText = "PRAGMA journal_mode = WAL;";
                pragma.ExecuteNonQuery();
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void EnsureTable(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = Command(connection, transaction, Create);
        command.ExecuteNonQuery();
    }

    public static bool Exists(SqliteConnection connection)
    {
        using var command = Command(connection, null, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'recall_projection_offsets'");
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static StoredProjection? Read(SqliteConnection connection, SqliteTransaction? transaction, ProjectionId id)
    {
        using var command = Command(connection, transaction, $"SELECT {Columns} FROM recall_projection_offsets WHERE projection_name = $name AND projection_key = $key");
        AddId(command, id);
        using var reader = command.ExecuteReader();
        return reader.Read() ? ReadRow(reader) : null;
    }

    public static IReadOnlyList<StoredProjection> ReadAll(SqliteConnection connection)
    {
        using var command = Command(connection, null, $"SELECT {Columns} FROM recall_projection_offsets ORDER BY projection_name, projection_key");
        using var reader = command.ExecuteReader();
        var rows = new List<StoredProjection>();
        while (reader.Read())
        {
            rows.Add(ReadRow(reader));
        }

        return rows;
    }

    /// <summary>Moves the offset from <paramref name="expected"/> to <paramref name="offset"/>; false when the stored offset is not <paramref name="expected"/>.</summary>
    private static bool Advance(SqliteConnection connection, SqliteTransaction transaction, ProjectionId id, Offset expected, Offset offset, DateTimeOffset eventTimestamp, DateTimeOffset now)
    {
        using var command = Command(connection, transaction, """
            UPDATE recall_projection_offsets
            SET offset_transaction = $transaction, offset_ordering = $ordering, event_timestamp = $timestamp,
                state = CASE state WHEN 'paused' THEN 'paused' ELSE 'running' END, updated_at = $now
            WHERE projection_name = $name AND projection_key = $key
              AND offset_transaction = $expectedTransaction AND offset_ordering = $expectedOrdering
            """);
        AddId(command, id);
        command.Parameters.AddWithValue("$transaction", offset.Transaction);
        command.Parameters.AddWithValue("$ordering", offset.Ordering);
        command.Parameters.AddWithValue("$timestamp", eventTimestamp.UtcTicks);
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.Parameters.AddWithValue("$expectedTransaction", expected.Transaction);
        command.Parameters.AddWithValue("$expectedOrdering", expected.Ordering);
        return command.ExecuteNonQuery() == 1;
    }

    /// <summary>Stores <paramref name="offset"/> whatever the stored one is, creating the row if missing.</summary>
    private static void Save(SqliteConnection connection, SqliteTransaction? transaction, ProjectionId id, Offset offset, DateTimeOffset? eventTimestamp, DateTimeOffset now)
    {
        using var command = Command(connection, transaction, $"""
            INSERT INTO recall_projection_offsets ({Columns})
            VALUES ($name, $key, $transaction, $ordering, $timestamp, 'running', NULL, $now)
            ON CONFLICT (projection_name, projection_key) DO UPDATE
            SET offset_transaction = excluded.offset_transaction, offset_ordering = excluded.offset_ordering,
                event_timestamp = excluded.event_timestamp,
                state = CASE state WHEN 'paused' THEN 'paused' ELSE 'running' END, updated_at = excluded.updated_at
            """);
        AddId(command, id);
        command.Parameters.AddWithValue("$transaction", offset.Transaction);
        command.Parameters.AddWithValue("$ordering", offset.Ordering);
        command.Parameters.AddWithValue("$timestamp", eventTimestamp is { } t ? t.UtcTicks : DBNull.Value);
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.ExecuteNonQuery();
    }

    /// <summary>Records the state (and the error when not null), creating the row at offset 0 if missing.</summary>
    private static void SaveState(SqliteConnection connection, SqliteTransaction? transaction, ProjectionId id, ProjectionState state, string? error, DateTimeOffset now)
    {
        using var command = Command(connection, transaction, $"""
            INSERT INTO recall_projection_offsets ({Columns})
            VALUES ($name, $key, 0, 0, NULL, $state, $error, $now)
            ON CONFLICT (projection_name, projection_key) DO UPDATE
            SET state = excluded.state, last_error = coalesce(excluded.last_error, last_error), updated_at = excluded.updated_at
            """);
        AddId(command, id);
        command.Parameters.AddWithValue("$state", ProjectionStates.ToText(state));
        command.Parameters.AddWithValue("$error", (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("$now", now.UtcTicks);
        command.ExecuteNonQuery();
    }

    private static StoredProjection ReadRow(SqliteDataReader reader) => new(
        new ProjectionId(reader.GetString(0), reader.GetString(1)),
        new Offset(reader.GetInt64(2), reader.GetInt64(3)),
        reader.IsDBNull(4) ? null : new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero),
        ProjectionStates.FromText(reader.GetString(5)),
        reader.IsDBNull(6) ? null : reader.GetString(6),
        new DateTimeOffset(reader.GetInt64(7), TimeSpan.Zero));

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static void AddId(SqliteCommand command, ProjectionId id)
    {
        command.Parameters.AddWithValue("$name", id.Name);
        command.Parameters.AddWithValue("$key", id.Key);
    }
}
