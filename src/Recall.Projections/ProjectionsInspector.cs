using Npgsql;
using Recall.Projections.PostgreSql;
using Recall.Projections.Sqlite;

namespace Recall.Projections;

/// <summary>
/// Reads the offsets tables for people and tools (the <c>recall projections</c> command): every
/// projection's offset, state, last error and update time, from the database alone. Read-only: it
/// never creates a file, a schema or a table.
/// </summary>
public static class ProjectionsInspector
{
    /// <summary>The projections of the SQLite file at <paramref name="path"/>, by name and key; empty when the file has no offsets table.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist (or is a directory; the message says which).</exception>
    public static Task<IReadOnlyList<StoredProjection>> ReadSqliteAsync(string path, CancellationToken cancellationToken = default)
    {
        var database = new SqliteProjectionDatabase(path);
        if (!File.Exists(database.Path))
        {
            throw new FileNotFoundException(
                Directory.Exists(database.Path) ? $"'{database.Path}' is a directory, not a database file: name the SQLite file in it." : $"Database file '{database.Path}' does not exist.",
                database.Path);
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var connection = SqliteOffsetsTable.Open(database, readOnly: true);
        return Task.FromResult(SqliteOffsetsTable.Exists(connection) ? SqliteOffsetsTable.ReadAll(connection) : []);
    }

    /// <summary>The projections of the PostgreSQL <paramref name="schema"/> (default <c>recall</c>), by name and key; empty when the schema has no offsets table.</summary>
    public static async Task<IReadOnlyList<StoredProjection>> ReadPostgreSqlAsync(string connectionString, string schema = "recall", CancellationToken cancellationToken = default)
    {
        var database = new PostgreSqlProjectionDatabase(connectionString) { Schema = schema };
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return await PostgreSqlOffsetsTable.ExistsAsync(connection, database.Schema, cancellationToken)
            ? await PostgreSqlOffsetsTable.ReadAllAsync(connection, database.QuotedSchema, cancellationToken)
            : [];
    }
}
