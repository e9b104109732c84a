using Microsoft.Data.Sqlite;

namespace Recall.Projections.Sqlite;

/// <summary>
/// Reads the offsets table of a SQLite file for people and tools (the <c>recall projections</c>
/// command): every projection's offset, state, last error and update time. Read-only: it never
/// creates a file or a table.
/// </summary>
public static class SqliteProjectionsInspector
{
    /// <summary>
    /// The projections in the offsets table of the SQLite database <paramref name="connection"/> is
    /// open on, by name and key; empty when it has no offsets table. Open it for reading only with
    /// <see cref="Persistence.Sqlite.SqliteReadOnlyConnection.Open"/>, which writes nothing beside the file.
    /// </summary>
    public static IReadOnlyList<StoredProjection> Read(SqliteConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return SqliteOffsetsDialect.Exists(connection) ? SqliteOffsetsDialect.ReadAll(connection) : [];
    }
}
