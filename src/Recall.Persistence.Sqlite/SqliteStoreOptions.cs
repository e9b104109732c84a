namespace Recall.Persistence.Sqlite;

/// <summary>How hard a commit waits for the disk.</summary>
public enum SqliteDurability
{
    /// <summary>
    /// <c>synchronous=FULL</c>: a write is acknowledged only after SQLite fsynced the WAL, so an
    /// acknowledged event survives a process crash and a power loss. The default.
    /// </summary>
    Full,

    /// <summary>
    /// <c>synchronous=NORMAL</c>: faster; an acknowledged event survives a process crash but the
    /// last commits may be lost on power loss or an OS crash.
    /// </summary>
    Normal,
}

/// <summary>Settings of the SQLite store. Every property has a documented default.</summary>
public sealed class SqliteStoreOptions
{
    /// <summary>The database file. Default <c>recall.db</c> in the working directory.</summary>
    public string Path { get; set; } = "recall.db";

    /// <summary>How long a connection waits for another process's write lock before failing. Default 30 s.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>When a write counts as durable. Default <see cref="SqliteDurability.Full"/> (fsync at commit).</summary>
    public SqliteDurability Durability { get; set; } = SqliteDurability.Full;

    /// <summary>Whether a missing file is created (with the schema). Default true; tools that only read set it false.</summary>
    public bool CreateIfMissing { get; set; } = true;

    /// <summary>
    /// Whether the file is opened for reading only, e.g. by a <see cref="SqliteReadJournalStore"/>
    /// that reads another process's journal as streams. A read-only store never creates the file,
    /// never creates or upgrades the schema (a file of an older schema version is refused until a
    /// writer opened it once), and a journal opened so fails every write with an
    /// <see cref="InvalidOperationException"/>. Its live streams see the other process's writes by
    /// polling (<c>ReadJournalOptions.PollInterval</c>). Default false.
    /// </summary>
    public bool ReadOnly { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            throw new ArgumentException("SqliteStoreOptions.Path must name a file.");
        }

        if (BusyTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BusyTimeout), BusyTimeout, "SqliteStoreOptions.BusyTimeout must not be negative.");
        }
    }
}

/// <summary>The SQLite file cannot be used: missing, not a database, corrupt, or of a newer schema.</summary>
public sealed class SqliteStoreException(string message, Exception? inner = null) : Exception(message, inner);
