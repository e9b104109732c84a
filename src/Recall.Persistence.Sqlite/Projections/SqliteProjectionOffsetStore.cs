using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.Sqlite;

/// <summary>
/// Offsets of at-least-once projections in the table <c>recall_projection_offsets</c> of a SQLite
/// file (created if missing), the same table exactly-once SQLite projections use. Each call opens a
/// pooled connection and commits on its own.
/// </summary>
public sealed class SqliteProjectionOffsetStore : IProjectionOffsetStore
{
    private readonly OffsetsTableStore _table;

    /// <summary>Offsets in the SQLite file at <paramref name="path"/>.</summary>
    public SqliteProjectionOffsetStore(string path)
        : this(new SqliteProjectionDatabase(path))
    {
    }

    /// <summary>Offsets in <paramref name="database"/>.</summary>
    /// <param name="database">The file and how to open it.</param>
    /// <param name="timeProvider">The clock of the rows' update times; the system clock by default.</param>
    public SqliteProjectionOffsetStore(SqliteProjectionDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _table = new OffsetsTableStore(new SqliteOffsetsDialect(database, keepConnection: false), timeProvider ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken) => _table.ReadAsync(id, cancellationToken);

    /// <inheritdoc />
    public ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken) =>
        _table.SaveOffsetAsync(id, offset, lastEventTimestamp, cancellationToken);

    /// <inheritdoc />
    public ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken) =>
        _table.SaveStateAsync(id, state, error, cancellationToken);
}
