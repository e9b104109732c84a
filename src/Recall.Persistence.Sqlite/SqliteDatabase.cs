using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// One SQLite file as the store uses it: the schema, pooled read connections, and one writer
/// connection on a dedicated thread, so that commits (and their fsync) never block the thread pool
/// and all writes of the process go through one connection in order.
/// </summary>
internal sealed class SqliteDatabase : IAsyncDisposable
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int SchemaVersion = SqliteSchema.Version;

    private readonly BlockingCollection<Action>? _writes;
    private readonly Thread? _writerThread;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Action> _closingWriter = [];
    private SqliteConnection? _writer;
    private int _disposed;

    public SqliteDatabase(SqliteStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Path = System.IO.Path.GetFullPath(options.Path);
        if (Directory.Exists(Path))
        {
            throw new SqliteStoreException($"'{Path}' is a directory, not a database file: name the SQLite file in it (SqliteStoreOptions.Path).");
        }

        if ((options.ReadOnly || !options.CreateIfMissing) && !File.Exists(Path))
        {
            throw new SqliteStoreException($"Database file '{Path}' does not exist.");
        }

        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = options.ReadOnly ? SqliteOpenMode.ReadOnly : options.CreateIfMissing ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();

        if (options.ReadOnly)
        {
            // No writer: check the file once with a reader and leave it exactly as it is.
            using var reader = Open(write: false);
            CheckReadOnly(reader);
            _writerStopped.SetResult();
            return;
        }

        // Open, check and (if new or older) create or upgrade the schema now, so that a bad file
        // fails at startup with its name, not at the first write.
        _writer = Open(write: true);
        InitializeSchema(_writer);
        _writes = new BlockingCollection<Action>();
        _writerThread = new Thread(WriterLoop) { IsBackground = true, Name = "recall-sqlite-writer" };
        _writerThread.Start();
    }

    public SqliteStoreOptions Options { get; }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>Notified after every committed write batch of a journal on this database: wakes the live streams of every read store on it.</summary>
    public WriteNotifier Writes { get; } = new();

    /// <summary>
    /// Runs <paramref name="close"/> on the writer thread just before the writer connection closes:
    /// for what a writer keeps on it beyond one call, such as its own prepared statements.
    /// </summary>
    public void OnWriterClosing(Action close)
    {
        lock (_closingWriter)
        {
            _closingWriter.Add(close);
        }
    }

    /// <summary>Runs <paramref name="work"/> on the writer thread with the writer connection.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, T> work)
    {
        if (_writes is null)
        {
            return Task.FromException<T>(new InvalidOperationException($"The SQLite store of '{Path}' is opened read-only (SqliteStoreOptions.ReadOnly): it cannot write."));
        }

        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _writes.Add(() =>
            {
                try
                {
                    completion.SetResult(work(_writer!));
                }
                catch (Exception exception)
                {
                    completion.SetException(exception);
                }
            });
        }
        catch (InvalidOperationException)
        {
            completion.SetException(new ObjectDisposedException(nameof(SqliteDatabase), $"The SQLite store of '{Path}' is closed."));
        }

        return completion.Task;
    }

    /// <summary>Opens a pooled connection for reading.</summary>
    public SqliteConnection OpenReader() => Open(write: false);

    /// <summary>
    /// Runs <paramref name="read"/> on a pooled reader connection on the thread pool, not the
    /// caller's thread: a read waiting on a locked file must not block a recovering actor, so that
    /// RecoveryEventTimeout can end it. SQLite errors name the file.
    /// </summary>
    public Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken) =>
        Task.Run(
            () =>
            {
                using var connection = OpenReader();
                try
                {
                    return read(connection);
                }
                catch (SqliteException exception)
                {
                    throw Describe(exception);
                }
            },
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _writerStopped.Task;
            return;
        }

        if (_writes is null)
        {
            return;
        }

        _writes.CompleteAdding();
        await _writerStopped.Task;
        _writes.Dispose();
    }

    private void WriterLoop()
    {
        try
        {
            foreach (var work in _writes!.GetConsumingEnumerable())
            {
                work();
            }
        }
        finally
        {
            lock (_closingWriter)
            {
                foreach (var close in _closingWriter)
                {
                    close();
                }
            }

            _writer?.Dispose();
            _writer = null;
            _writerStopped.TrySetResult();
        }
    }

    /// <summary>
    /// The size the write-ahead log is cut back to when it starts over after a checkpoint (bytes).
    /// Without it the file keeps the largest size it ever reached, say after a long reader held it.
    /// </summary>
    internal const long WalSizeLimit = 16 * 1024 * 1024;

    private SqliteConnection Open(bool write)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            var synchronous = Options.Durability == SqliteDurability.Full ? "FULL" : "NORMAL";
            pragma.CommandText = write
                ? $"PRAGMA busy_timeout = {(long)Options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = OFF; PRAGMA journal_size_limit = {WalSizeLimit};"
                : $"PRAGMA busy_timeout = {(long)Options.BusyTimeout.TotalMilliseconds};";
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException exception)
        {
            connection.Dispose();
            throw Describe(exception);
        }
    }

    /// <summary>A SQLite error about the file itself, rephrased to name the file.</summary>
    public SqliteStoreException Describe(SqliteException exception) => Describe(Path, exception);

    /// <summary>A SQLite error about the file at <paramref name="path"/>, rephrased to name it.</summary>
    public static SqliteStoreException Describe(string path, SqliteException exception) => exception.SqliteErrorCode switch
    {
        26 => new SqliteStoreException($"'{path}' is not a SQLite database (SQLITE_NOTADB); it was left untouched.", exception),
        11 => new SqliteStoreException($"'{path}' is corrupt or truncated (SQLITE_CORRUPT); it was left untouched. Restore it from a backup.", exception),
        8 => new SqliteStoreException($"'{path}' cannot be written (SQLITE_READONLY): the file, its folder or its -wal/-shm files are not writable by this user, or the file system is read-only. Recall writes beside the file too (its -wal and -shm files); to read it only, use SqliteStoreOptions.ReadOnly or 'recall journal'.", exception),
        14 when File.Exists(path) => new SqliteStoreException($"'{path}' cannot be opened for writing (SQLITE_CANTOPEN): the file or its folder is not writable by this user, or the file system is read-only.", exception),
        14 => new SqliteStoreException($"'{path}' cannot be opened (SQLITE_CANTOPEN): check the folder exists and is writable.", exception),
        19 => new SqliteStoreException(
            $"'{path}' refused a write: {exception.Message} (SQLITE_CONSTRAINT, extended code {exception.SqliteExtendedErrorCode}). This is a constraint of the schema, not another writer: check that every process writing the file runs the same Recall version and that nothing else changed its tables. Nothing of the batch was stored.",
            exception),
        _ => new SqliteStoreException($"SQLite error on '{path}': {exception.Message}", exception),
    };

    private void InitializeSchema(SqliteConnection connection)
    {
        try
        {
            // Look before changing anything: WAL mode is written into the file's header, and a file
            // that is not ours, or of a newer version, must stay exactly as it was.
            using var command = connection.CreateCommand();
            var version = ReadVersion(command);
            if (version == SchemaVersion)
            {
                EnableWal(command);
                return;
            }

            EnableWal(command);

            // Create and upgrade under the write lock (BEGIN IMMEDIATE), reading the version again
            // inside: two processes opening a new or older file at the same time must not both
            // create or upgrade it. A new file is created at version 1 and upgraded like an old
            // one, so every file of a version has the same schema however it got there.
            using var transaction = connection.BeginTransaction(deferred: false);
            command.Transaction = transaction;
            version = ReadVersion(command);
            if (version == 0)
            {
                command.CommandText = SqliteSchema.Version1;
                command.ExecuteNonQuery();
                version = 1;
            }

            if (version < 2)
            {
                // The backfill computes each stored event's entity type and slice in C# (the same
                // code that computes them on insert), called by SQLite through these functions.
                connection.CreateFunction<string, string>("recall_entity_type", Slices.EntityTypeOf, isDeterministic: true);
                connection.CreateFunction<string, int>("recall_slice", Slices.Of, isDeterministic: true);
                command.CommandText = SqliteSchema.UpgradeTo2;
                command.ExecuteNonQuery();
            }

            if (version < 3)
            {
                command.CommandText = SqliteSchema.UpgradeTo3;
                command.ExecuteNonQuery();
            }

            if (version < 4)
            {
                command.CommandText = SqliteSchema.UpgradeTo4;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
        }
        catch (SqliteException exception)
        {
            connection.Dispose();
            throw Describe(exception);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The schema version of the file: 0 for an empty file. Refuses a file of another application
    /// (tables but no <c>recall_schema</c>) or of a newer version.
    /// </summary>
    private long ReadVersion(SqliteCommand command)
    {
        // One statement, so one snapshot: two would let another process that creates the schema
        // meanwhile show "no recall_schema" and then "tables", a file of another application.
        command.CommandText = "SELECT coalesce(sum(name = 'recall_schema'), 0), count(*) FROM sqlite_master WHERE type = 'table'";
        using (var reader = command.ExecuteReader())
        {
            reader.Read();
            if (reader.GetInt64(0) == 0)
            {
                if (reader.GetInt64(1) > 0)
                {
                    throw new SqliteStoreException($"'{Path}' is a SQLite database of another application (it has tables but no Recall schema); it was left untouched.");
                }

                return 0;
            }
        }

        command.CommandText = "SELECT max(version) FROM recall_schema";
        var found = command.ExecuteScalar();
        var version = found is null or DBNull ? 0 : Convert.ToInt64(found, CultureInfo.InvariantCulture);
        if (version > SchemaVersion)
        {
            throw new SqliteStoreException(
                $"'{Path}' has schema version {version}, written by a newer Recall; this version reads up to {SchemaVersion}. Upgrade Recall to open it.");
        }

        return version;
    }

    /// <summary>A read-only store changes nothing, so it reads only files of the current version.</summary>
    private void CheckReadOnly(SqliteConnection connection)
    {
        try
        {
            using var command = connection.CreateCommand();
            var version = ReadVersion(command);
            if (version < SchemaVersion)
            {
                throw new SqliteStoreException(version == 0
                    ? $"'{Path}' holds no Recall journal yet; a read-only store does not create one."
                    : $"'{Path}' has schema version {version}; a read-only store reads only version {SchemaVersion}. Open it once with a store that may write (which upgrades it), then read it.");
            }
        }
        catch (SqliteException exception)
        {
            throw Describe(exception);
        }
    }

    private static void EnableWal(SqliteCommand command)
    {
        command.CommandText = "PRAGMA journal_mode = WAL;";
        command.ExecuteNonQuery();
    }
}

/// <summary>
/// The schema: the tables of version 1, and the steps that upgrade a file to the current version.
/// A new file runs them all; an older file runs the steps after its version; every step is in
/// the same transaction as the version row it adds.
/// </summary>
internal static class SqliteSchema
{
    /// <summary>The version this build creates, upgrades to, and reads.</summary>
    public const int Version = 4;

    /// <summary>What the trigger <c>journal_no_rewrite</c> says: a stale writer tried to refill a deleted history.</summary>
    public const string DeletedSequenceNumberMessage = "sequence number already used by a deleted event";

    /// <summary>The tables of version 1 and its version row.</summary>
    public const string Version1 = """
        CREATE TABLE recall_schema (version INTEGER NOT NULL);

        -- ordering: the global order of events, monotonic and gap-free under SQLite's single writer
        -- (AUTOINCREMENT never reuses a value; a rolled-back insert rolls back the counter too).
        CREATE TABLE journal (
            ordering        INTEGER PRIMARY KEY AUTOINCREMENT,
            persistence_id  TEXT    NOT NULL,
            sequence_number INTEGER NOT NULL,
            writer_id       TEXT    NOT NULL,
            timestamp       INTEGER NOT NULL, -- UTC ticks
            manifest        TEXT    NOT NULL,
            payload         BLOB    NOT NULL,
            tags            TEXT    NULL,     -- JSON array, NULL when untagged
            UNIQUE (persistence_id, sequence_number)
        );

        CREATE TABLE journal_tags (
            tag      TEXT    NOT NULL,
            ordering INTEGER NOT NULL,
            PRIMARY KEY (tag, ordering)
        ) WITHOUT ROWID;

        -- The highest sequence number of an id whose newest events were deleted.
        CREATE TABLE journal_highest (
            persistence_id  TEXT    NOT NULL PRIMARY KEY,
            sequence_number INTEGER NOT NULL
        ) WITHOUT ROWID;

        -- A deleted history keeps its highest sequence number: a stale writer cannot refill it.
        CREATE TRIGGER journal_no_rewrite BEFORE INSERT ON journal
        WHEN NEW.sequence_number <= (SELECT sequence_number FROM journal_highest WHERE persistence_id = NEW.persistence_id)
        BEGIN
            SELECT RAISE(ABORT, 'sequence number already used by a deleted event');
        END;

        CREATE TABLE snapshots (
            persistence_id  TEXT    NOT NULL,
            sequence_number INTEGER NOT NULL,
            timestamp       INTEGER NOT NULL, -- UTC ticks
            manifest        TEXT    NOT NULL,
            payload         BLOB    NOT NULL,
            PRIMARY KEY (persistence_id, sequence_number)
        ) WITHOUT ROWID;

        INSERT INTO recall_schema (version) VALUES (1);
        """;

    /// <summary>
    /// Version 2: every event carries its entity type and slice (<c>Slices.EntityTypeOf</c> and
    /// <c>Slices.Of</c> of its persistence id, computed in C# on insert), indexed for the read
    /// side's events by slices. The backfill calls the functions <c>recall_entity_type</c> and
    /// <c>recall_slice</c>, which the upgrading connection registers.
    /// </summary>
    public const string UpgradeTo2 = """
        ALTER TABLE journal ADD COLUMN entity_type TEXT;
        ALTER TABLE journal ADD COLUMN slice INTEGER;
        UPDATE journal SET entity_type = recall_entity_type(persistence_id), slice = recall_slice(persistence_id);
        -- Entity type, then ordering: new events go to the end of their entity type's range, so the
        -- index costs little on insert (with the slice second, every insert landed on a random page
        -- and halved write throughput); the slice, last, is tested inside the index.
        CREATE INDEX journal_slices ON journal (entity_type, ordering, slice);

        -- A process of an older Recall that still has the file open would insert rows without
        -- them, which events by slices would never find: refuse such a write loudly instead.
        CREATE TRIGGER journal_needs_slice BEFORE INSERT ON journal
        WHEN NEW.entity_type IS NULL OR NEW.slice IS NULL
        BEGIN
            SELECT RAISE(ABORT, 'journal rows need entity_type and slice (schema version 2): upgrade every Recall process that writes this file');
        END;

        INSERT INTO recall_schema (version) VALUES (2);
        """;

    /// <summary>
    /// Version 3: the highest fencing token accepted per persistence id (a fenced write raises it in
    /// its own transaction, and one with an older token is refused: a stale owner cannot append),
    /// the cluster's leases (holder, fencing token, expiry in Unix milliseconds on SQLite's clock), and
    /// its members (one row per address; status as <c>MemberStatus</c>: 0 joining, 1 up, 2 leaving,
    /// 3 exiting, 4 removed, 5 down; times in Unix milliseconds on SQLite's clock).
    /// </summary>
    public const string UpgradeTo3 = """
        CREATE TABLE journal_fencing (
            persistence_id TEXT NOT NULL PRIMARY KEY,
            token INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE cluster_leases (
            name TEXT NOT NULL PRIMARY KEY,
            holder TEXT NOT NULL,
            token INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE cluster_members (
            address TEXT NOT NULL PRIMARY KEY,
            incarnation INTEGER NOT NULL,
            status INTEGER NOT NULL,
            roles TEXT NOT NULL, -- comma-separated
            joined_at INTEGER NOT NULL,
            heartbeat_at INTEGER NOT NULL
        ) WITHOUT ROWID;

        INSERT INTO recall_schema (version) VALUES (3);
        """;

    /// <summary>
    /// Version 4: cluster sharding's shard homes (the address of the node whose region hosts each
    /// allocated shard of an entity type) and the entities each shard remembers.
    /// </summary>
    public const string UpgradeTo4 = """
        CREATE TABLE cluster_shards (
            type_name TEXT NOT NULL,
            shard_id TEXT NOT NULL,
            node TEXT NOT NULL,
            PRIMARY KEY (type_name, shard_id)
        ) WITHOUT ROWID;

        CREATE TABLE cluster_shard_entities (
            type_name TEXT NOT NULL,
            shard_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            PRIMARY KEY (type_name, shard_id, entity_id)
        ) WITHOUT ROWID;

        INSERT INTO recall_schema (version) VALUES (4);
        """;
}
