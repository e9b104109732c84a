using System.Text.Json;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// The journal in a SQLite file. A batch from the journal front is one transaction (one fsync)
/// on the store's writer thread, with prepared statements; an atomic write of several events is
/// all-or-nothing within it (a savepoint), and an existing (persistence id, sequence number)
/// makes that write a <see cref="SequenceConflictException"/> while the rest of the batch commits.
/// Its read side is <see cref="Reads"/> (read it with <c>system.Persistence().ReadJournal</c>, or
/// with <c>new ReadJournal(journal.Reads)</c>); another process reads the file with a
/// <see cref="SqliteReadJournalStore"/> of its own (<see cref="SqliteStoreOptions.ReadOnly"/>).
/// </summary>
public sealed class SqliteJournal : IJournal, IFencingJournal, IAsyncDisposable
{
    private readonly SqliteDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly bool _ownsDatabase;
    private WriterStatements? _statements;

    /// <summary>Opens (or creates) the journal in the file of <paramref name="options"/>.</summary>
    public SqliteJournal(SqliteStoreOptions options, EventSerialization serialization)
        : this(new SqliteDatabase(options), serialization, ownsDatabase: true)
    {
    }

    internal SqliteJournal(SqliteDatabase database, EventSerialization serialization, bool ownsDatabase)
    {
        _database = database;
        _serialization = serialization;
        _ownsDatabase = ownsDatabase;
        Reads = new SqliteReadJournalStore(database, serialization, ownsDatabase: false);
        database.OnWriterClosing(() =>
        {
            _statements?.Dispose();
            _statements = null;
        });
    }

    /// <summary>The full path of the database file.</summary>
    public string Path => _database.Path;

    /// <summary>
    /// The read side of this journal's database: replays, and the store to read as streams
    /// (<c>new ReadJournal(journal.Reads)</c>), whose live streams wake at each write of this
    /// journal. Closed with the journal.
    /// </summary>
    public SqliteReadJournalStore Reads { get; }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);

        // Serialize first, on the caller's thread: a payload that cannot be serialized rejects
        // its own atomic write and never reaches the database.
        var results = new Exception?[writes.Count];
        var rows = new Row[writes.Count][];
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                rows[i] = Serialize(writes[i]);
            }
            catch (Exception exception)
            {
                results[i] = exception;
            }
        }

        return new ValueTask<IReadOnlyList<Exception?>>(_database.WriteAsync<IReadOnlyList<Exception?>>(connection => Insert(connection, writes, rows, results)));
    }

    /// <inheritdoc />
    public ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return new ValueTask<bool>(_database.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = SqliteJournalSql.Fence;
            command.Parameters.AddWithValue("$pid", persistenceId);
            command.Parameters.AddWithValue("$token", token);
            return command.ExecuteNonQuery() == 1;
        }));
    }

    /// <inheritdoc />
    public IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken) =>
        Reads.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);

    /// <inheritdoc />
    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken) =>
        Reads.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);

    /// <inheritdoc />
    public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return new ValueTask(_database.WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;

            command.CommandText = SqliteJournalSql.DeleteTo;
            command.Parameters.AddWithValue("$pid", persistenceId);
            command.Parameters.AddWithValue("$to", toSequenceNumber);
            command.ExecuteNonQuery();
            transaction.Commit();
            return true;
        }));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsDatabase)
        {
            await _database.DisposeAsync();
        }
    }

    private Row[] Serialize(AtomicWrite write)
    {
        var rows = new Row[write.Events.Count];
        var entityType = Slices.EntityTypeOf(write.PersistenceId);
        var slice = Slices.Of(write.PersistenceId);
        for (var i = 0; i < rows.Length; i++)
        {
            var repr = write.Events[i];
            var payload = _serialization.Serialize(repr.Payload);
            rows[i] = new Row(repr, payload, repr.Tags.Count == 0 ? null : JsonSerializer.Serialize(repr.Tags), entityType, slice);
        }

        return rows;
    }

    private Exception?[] Insert(SqliteConnection connection, IReadOnlyList<AtomicWrite> writes, Row[][] rows, Exception?[] results)
    {
        var statements = _statements ??= new WriterStatements(connection);
        try
        {
            using var transaction = connection.BeginTransaction();
            statements.Enlist(transaction);
            for (var i = 0; i < rows.Length; i++)
            {
                if (results[i] is not null)
                {
                    continue;
                }

                var write = rows[i];
                var token = writes[i].FencingToken;
                var atomic = write.Length > 1 || token is not null;
                if (atomic)
                {
                    statements.Savepoint.ExecuteNonQuery();
                }

                try
                {
                    // A fenced write first raises the id's token; a newer one stored refuses it. Inside
                    // the savepoint, so that a write refused for its sequence number raises nothing.
                    if (token is { } fence && !statements.Fence(write[0].Repr.PersistenceId, fence))
                    {
                        statements.RollbackToSavepoint.ExecuteNonQuery();
                        statements.Release.ExecuteNonQuery();
                        results[i] = new FencedWriteException(write[0].Repr.PersistenceId, write[0].Repr.SequenceNumber, fence);
                        continue;
                    }

                    foreach (var row in write)
                    {
                        statements.Insert(row);
                    }

                    if (atomic)
                    {
                        statements.Release.ExecuteNonQuery();
                    }
                }
                catch (SqliteException exception) when (IsSequenceConflict(exception))
                {
                    // The (persistence id, sequence number) exists already, or belonged to a deleted event.
                    if (atomic)
                    {
                        statements.RollbackToSavepoint.ExecuteNonQuery();
                        statements.Release.ExecuteNonQuery();
                    }

                    results[i] = new SequenceConflictException(write[0].Repr.PersistenceId, write[0].Repr.SequenceNumber, exception);
                }
            }

            transaction.Commit();

            // Committed: wake this process's live streams. (Other processes find the events by
            // polling.) Their next read sees every event of this batch, in its final place.
            _database.Writes.Notify();
            return results;
        }
        catch (SqliteException exception)
        {
            _statements?.Dispose();
            _statements = null;
            throw _database.Describe(exception);
        }
    }

    /// <summary>
    /// Whether a constraint failure is another writer's doing: the unique (persistence id, sequence
    /// number) or the trigger that keeps a deleted history's numbers used. Any other constraint
    /// (NOT NULL, the schema's other triggers) is a schema problem, reported as a store error naming it.
    /// </summary>
    private static bool IsSequenceConflict(SqliteException exception) =>
        exception.SqliteExtendedErrorCode == 2067 // SQLITE_CONSTRAINT_UNIQUE
        || (exception.SqliteExtendedErrorCode == 1811 // SQLITE_CONSTRAINT_TRIGGER
            && exception.Message.Contains(SqliteSchema.DeletedSequenceNumberMessage, StringComparison.Ordinal));

    private sealed record Row(PersistentRepr Repr, SerializedPayload Payload, string? Tags, string EntityType, int Slice);

    /// <summary>
    /// The writer connection's prepared statements, reused for every batch. The two inserts of every
    /// event are SQLite statements bound and stepped directly (parameters by position, no data
    /// reader per row): a third of the per-row cost of a command executed through ADO.NET. The rest
    /// (fencing, savepoints) are commands.
    /// </summary>
    private sealed class WriterStatements : IDisposable
    {
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _insert;
        private readonly sqlite3_stmt _insertTag;
        private readonly SqliteCommand _fence;
        private readonly int _pid, _seq, _writer, _ts, _manifest, _payload, _tags, _entity, _slice, _tag;
        private readonly SqliteParameter _fencePid, _fenceToken;

        public WriterStatements(SqliteConnection connection)
        {
            _db = connection.Handle!;
            _insert = Prepare(SqliteJournalSql.Insert);
            _insertTag = Prepare(SqliteJournalSql.InsertTag);
            _pid = Parameter(_insert, "$pid");
            _seq = Parameter(_insert, "$seq");
            _writer = Parameter(_insert, "$writer");
            _ts = Parameter(_insert, "$ts");
            _manifest = Parameter(_insert, "$manifest");
            _payload = Parameter(_insert, "$payload");
            _tags = Parameter(_insert, "$tags");
            _entity = Parameter(_insert, "$entity");
            _slice = Parameter(_insert, "$slice");
            _tag = Parameter(_insertTag, "$tag");
            _fence = connection.CreateCommand();
            _fence.CommandText = SqliteJournalSql.Fence;
            _fencePid = _fence.Parameters.Add("$pid", SqliteType.Text);
            _fenceToken = _fence.Parameters.Add("$token", SqliteType.Integer);
            Savepoint = Command(connection, "SAVEPOINT recall_write");
            Release = Command(connection, "RELEASE recall_write");
            RollbackToSavepoint = Command(connection, "ROLLBACK TO recall_write");
        }

        public SqliteCommand Savepoint { get; }

        public SqliteCommand Release { get; }

        public SqliteCommand RollbackToSavepoint { get; }

        public void Enlist(SqliteTransaction transaction)
        {
            _fence.Transaction = transaction;
            Savepoint.Transaction = transaction;
            Release.Transaction = transaction;
            RollbackToSavepoint.Transaction = transaction;
        }

        public void Insert(Row row)
        {
            var repr = row.Repr;
            raw.sqlite3_bind_text(_insert, _pid, repr.PersistenceId);
            raw.sqlite3_bind_int64(_insert, _seq, repr.SequenceNumber);
            raw.sqlite3_bind_text(_insert, _writer, repr.WriterId);
            raw.sqlite3_bind_int64(_insert, _ts, repr.Timestamp.UtcTicks);
            raw.sqlite3_bind_text(_insert, _manifest, row.Payload.Manifest);
            raw.sqlite3_bind_blob(_insert, _payload, row.Payload.Data);

            if (row.Tags is null)
            {
                raw.sqlite3_bind_null(_insert, _tags);
            }
            else
            {
                raw.sqlite3_bind_text(_insert, _tags, row.Tags);
            }

            raw.sqlite3_bind_text(_insert, _entity, row.EntityType);
            raw.sqlite3_bind_int(_insert, _slice, row.Slice);
            Step(_insert);
            foreach (var tag in repr.Tags)
            {
                raw.sqlite3_bind_text(_insertTag, _tag, tag);
                Step(_insertTag);
            }
        }

        /// <summary>Raises the id's fencing token to <paramref name="token"/>; false when a higher one is stored.</summary>
        public bool Fence(string persistenceId, long token)
        {
            _fencePid.Value = persistenceId;
            _fenceToken.Value = token;
            return _fence.ExecuteNonQuery() == 1;
        }

        public void Dispose()
        {
            _insert.Dispose();
            _insertTag.Dispose();
            _fence.Dispose();
            Savepoint.Dispose();
            Release.Dispose();
            RollbackToSavepoint.Dispose();
        }

        private sqlite3_stmt Prepare(string sql)
        {
            SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_db, sql, out var statement), _db);
            return statement;
        }

        private static int Parameter(sqlite3_stmt statement, string name)
        {
            var index = raw.sqlite3_bind_parameter_index(statement, name);
            return index > 0 ? index : throw new InvalidOperationException($"The journal's statement has no parameter {name}.");
        }

        /// <summary>Runs an insert; a failure (a constraint, a full disk) is a <see cref="SqliteException"/> with SQLite's codes and message, as a command's would be.</summary>
        private void Step(sqlite3_stmt statement)
        {
            var result = raw.sqlite3_step(statement);
            try
            {
                if (result != raw.SQLITE_DONE)
                {
                    SqliteException.ThrowExceptionForRC(result, _db);
                }
            }
            finally
            {
                raw.sqlite3_reset(statement);
            }
        }

        private static SqliteCommand Command(SqliteConnection connection, string sql)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            return command;
        }
    }
}
