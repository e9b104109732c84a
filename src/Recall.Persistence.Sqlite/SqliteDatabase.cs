using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// One SQLite file as the store uses it: the schema, pooled read connections, and one writer
/// connection on a dedicated thread, so that commits (and their fsync) never block the thread pool
/// and all writes of the process go through one connection in order.
/// </summary>
internal sealed class SqliteDatabase : IAsyncDisposable
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int SchemaVersion = 1;

    private readonly BlockingCollection<Action> _writes = new();
    private readonly Thread _writerThread;
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SqliteConnection? _writer;
    private int _disposed;

    public SqliteDatabase(SqliteStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Path = System.IO.Path.GetFullPath(options.Path);
        if (!options.CreateIfMissing && !File.Exists(Path))
        {
            throw new SqliteStoreException($"Database file '{Path}' does not exist.");
        }

        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = options.CreateIfMissing ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();

        // Open, check and (if new) create the schema now, so that a bad file fails at startup
        // with its name, not at the first write.
        _writer = Open(write: true);
        InitializeSchema(_writer);
        _writerThread = new Thread(WriterLoop) { IsBackground = true, Name = "recall-sqlite-writer" };
        _writerThread.Start();
    }

    public SqliteStoreOptions Options { get; }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>Runs <paramref name="work"/> on the writer thread with the writer connection.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, T> work)
    {
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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            await _writerStopped.Task;
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
            foreach (var work in _writes.GetConsumingEnumerable())
            {
                work();
            }
        }
        finally
        {
            _writer?.Dispose();
            _writer = null;
            _writerStopped.TrySetResult();
        }
    }

    private SqliteConnection Open(bool write)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            var synchronous = Options.Durability == SqliteDurability.Full ? "FULL" : "NORMAL";
            pragma.CommandText = write
                ? $"PRAGMA busy_timeout = {(long)Options.BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = OFF;"
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
    public SqliteStoreException Describe(SqliteException exception) => exception.SqliteErrorCode switch
    {
        26 => new SqliteStoreException($"'{Path}' is not a SQLite database (SQLITE_NOTADB); it was left untouched.", exception),
        11 => new SqliteStoreException($"'{Path}' is corrupt or truncated (SQLITE_CORRUPT); it was left untouched. Restore it from a backup.", exception),
        14 => new SqliteStoreException($"'{Path}' cannot be opened (SQLITE_CANTOPEN): check the folder exists and is writable.", exception),
        _ => new SqliteStoreException($"SQLite error on '{Path}': {exception.Message}", exception),
    };

    private void InitializeSchema(SqliteConnection connection)
    {
        try
        {
            // Look before changing anything: WAL mode is written into the file's header, and a file
            // that is not ours must stay exactly as it was.
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'recall_schema'";
            var hasSchema = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
            if (hasSchema)
            {
                command.CommandText = "SELECT max(version) FROM recall_schema";
                var found = command.ExecuteScalar();
                var version = found is null or DBNull ? 0 : Convert.ToInt64(found, System.Globalization.CultureInfo.InvariantCulture);
                if (version > SchemaVersion)
                {
                    throw new SqliteStoreException(
                        $"'{Path}' has schema version {version}, written by a newer Recall; this version reads up to {SchemaVersion}. Upgrade Recall to open it.");
                }

                if (version == SchemaVersion)
                {
                    EnableWal(command);
                    return;
                }
            }
            else
            {
                command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table'";
                var tables = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                if (tables > 0)
                {
                    throw new SqliteStoreException($"'{Path}' is a SQLite database of another application (it has tables but no Recall schema); it was left untouched.");
                }
            }

            EnableWal(command);
            using var transaction = connection.BeginTransaction();
            command.Transaction = transaction;
            command.CommandText = SqliteSchema.Create;
            command.ExecuteNonQuery();
            command.CommandText = $"INSERT INTO recall_schema(version) VALUES ({SchemaVersion})";
            command.ExecuteNonQuery();
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

    private static void EnableWal(SqliteCommand command)
    {
        command.CommandText = "PRAGMA journal_mode = WAL;";
        command.ExecuteNonQuery();
    }
}

/// <summary>The tables of schema version 1.</summary>
internal static class SqliteSchema
{
    public const string Create = """
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
        """;
}
