namespace Recall.Projections.Sqlite;

/// <summary>
/// The SQLite file a projection writes its read model and offsets to (often the journal's own file),
/// and how it opens it. The projection uses a connection of its own, like another writer of the
/// file: WAL mode, a busy timeout for the journal's write lock, and the commit durability.
/// </summary>
public sealed class SqliteProjectionDatabase
{
    /// <summary>The file at <paramref name="path"/> (created if missing).</summary>
    public SqliteProjectionDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>How long a transaction waits for another connection's write lock (the journal's writer, another projection) before failing. Default 30 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a commit waits for fsync (<c>synchronous=FULL</c>, the default, as the journal does), so
    /// a handled batch survives a power loss; false uses <c>synchronous=NORMAL</c>: faster, and a
    /// crash of the process still loses nothing, but the last batches may be handled again after a
    /// power loss (their offsets are lost with them, so this stays exactly-once).
    /// </summary>
    public bool FullSync { get; init; } = true;

    /// <inheritdoc />
    public override string ToString() => Path;
}
