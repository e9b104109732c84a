using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.PostgreSql;

/// <summary>
/// Offsets of at-least-once projections in the table <c>recall_projection_offsets</c> of a
/// PostgreSQL schema (created if missing), the same table exactly-once PostgreSQL projections use.
/// Owns a small connection pool: dispose it after the projections that use it stopped.
/// </summary>
public sealed class PostgreSqlProjectionOffsetStore : IProjectionOffsetStore, IAsyncDisposable
{
    private readonly PostgreSqlOffsetsDialect _dialect;
    private readonly OffsetsTableStore _table;

    /// <summary>Offsets in <paramref name="database"/>.</summary>
    /// <param name="database">The database and schema.</param>
    /// <param name="timeProvider">The clock of the rows' update times; the system clock by default.</param>
    public PostgreSqlProjectionOffsetStore(PostgreSqlProjectionDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _dialect = new PostgreSqlOffsetsDialect(database);
        _table = new OffsetsTableStore(_dialect, timeProvider ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken) => _table.ReadAsync(id, cancellationToken);

    /// <inheritdoc />
    public ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken) =>
        _table.SaveOffsetAsync(id, offset, lastEventTimestamp, cancellationToken);

    /// <inheritdoc />
    public ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken) =>
        _table.SaveStateAsync(id, state, error, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dialect.DisposeAsync();
}
