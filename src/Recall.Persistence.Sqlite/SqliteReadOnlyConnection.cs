using Microsoft.Data.Sqlite;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// Opens a SQLite file to read it without writing anything, for inspection tools. When no process
/// has the file open (no <c>-wal</c> or <c>-shm</c> file beside it), it is opened as immutable:
/// nothing is created beside it, no lock is taken, and a folder the user cannot write is no
/// obstacle. Otherwise a writer is live (or one crashed): the file is opened read-only through its
/// write-ahead log, so that what the writer committed is seen; SQLite then needs the <c>-shm</c>
/// file to be readable by the user.
/// </summary>
public static class SqliteReadOnlyConnection
{
    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="SqliteStoreException">The file is missing, a directory, not a SQLite database, or cannot be read (the message says why).</exception>
    public static SqliteConnection Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        path = Path.GetFullPath(path);
        if (Directory.Exists(path))
        {
            throw new SqliteStoreException($"'{path}' is a directory, not a database file: name the SQLite file in it.");
        }

        if (!File.Exists(path))
        {
            throw new SqliteStoreException($"Database file '{path}' does not exist.");
        }

        var live = File.Exists(path + "-wal") || File.Exists(path + "-shm");
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = live ? path : ImmutableUri(path),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master"; // reads the header: a file that is not a database fails here
            command.ExecuteScalar();
            return connection;
        }
        catch (SqliteException exception)
        {
            connection.Dispose();
            throw exception.SqliteErrorCode is 8 or 14
                ? new SqliteStoreException(
                    live
                        ? $"Cannot read '{path}' while its -wal and -shm files (a process has it open, or one crashed) are not readable and writable by you: run as the user that writes it, or once no process has it open ({exception.Message})."
                        : $"SQLite error on '{path}': {exception.Message}",
                    exception)
                : SqliteDatabase.Describe(path, exception); // the store's own wording for a file that is not a database, or corrupt
        }
    }

    /// <summary><c>file:/path?immutable=1</c>, with every character the URI form reserves escaped.</summary>
    private static string ImmutableUri(string path) =>
        "file:" + Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal) + "?immutable=1";
}
