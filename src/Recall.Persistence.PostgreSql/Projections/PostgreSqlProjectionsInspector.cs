using Npgsql;

namespace Recall.Projections.PostgreSql;

/// <summary>
/// Reads the offsets table of a PostgreSQL schema for people and tools (the <c>recall projections</c>
/// command): every projection's offset, state, last error and update time. Read-only: it never
/// creates a schema or a table.
/// </summary>
public static class PostgreSqlProjectionsInspector
{
    /// <summary>The projections of the PostgreSQL <paramref name="schema"/> (default <c>recall</c>), by name and key; empty when the schema has no offsets table.</summary>
    /// <exception cref="ArgumentException">The connection string or the schema name is not valid.</exception>
    public static async Task<IReadOnlyList<StoredProjection>> ReadAsync(string connectionString, string schema = "recall", CancellationToken cancellationToken = default)
    {
        var database = new PostgreSqlProjectionDatabase(connectionString) { Schema = schema };
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return await PostgreSqlOffsetsDialect.ExistsAsync(connection, database.Schema, cancellationToken)
            ? await PostgreSqlOffsetsDialect.ReadAllAsync(connection, database.QuotedSchema, cancellationToken)
            : [];
    }
}
