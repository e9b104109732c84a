using Microsoft.Data.Sqlite;
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
    /// <summary>
    /// The projections in the offsets table of the SQLite database <paramref name="connection"/> is
    /// open on, by name and key; empty when it has no offsets table. Open it for reading only with
    /// <c>SqliteReadOnlyConnection.Open</c> (Recall.Persistence.Sqlite), which writes nothing beside the file.
    /// </summary>
    public static IReadOnlyList<StoredProjection> ReadSqlite(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return SqliteOffsetsTable.Exists(connection) ? SqliteOffsetsTable.ReadAll(connection) : [];
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
