using Microsoft.Data.Sqlite;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>A database file in a fresh temporary folder, removed with the folder.</summary>
public sealed class TempDatabase : IDisposable
{
    public TempDatabase()
    {
        Folder = Directory.CreateTempSubdirectory("recall-sqlite-").FullName;
        Path = System.IO.Path.Combine(Folder, "journal.db");
    }

    public string Folder { get; }

    public string Path { get; }

    /// <summary>An open connection to the file of its own (not pooled), as another tool or process would have.</summary>
    public async Task<SqliteConnection> OpenConnectionAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        await connection.OpenAsync();
        return connection;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
