using Recall.Persistence.Query;

namespace Recall.Projections;

/// <summary>
/// Where an at-least-once projection keeps its offset and state: in memory
/// (<see cref="InMemoryProjectionOffsetStore"/>), in a SQLite file
/// (<c>SqliteProjectionOffsetStore</c>, package Recall.Persistence.Sqlite) or in PostgreSQL
/// (<c>PostgreSqlProjectionOffsetStore</c>, package Recall.Persistence.PostgreSql). Exactly-once projections keep theirs in
/// the read model's own database instead, in the handler's transaction.
/// </summary>
/// <remarks>
/// One projection id is written by one projection at a time; the store needs no locking beyond
/// what makes a single call atomic. Calls may come from any thread.
/// </remarks>
public interface IProjectionOffsetStore
{
    /// <summary>The stored row of <paramref name="id"/>, or null when the projection never stored anything.</summary>
    ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="offset"/> as the offset of the last handled event (and when that event
    /// was persisted, null when unknown or after a reset), creating the row if needed. The state
    /// becomes <see cref="ProjectionState.Running"/> unless the row says <see cref="ProjectionState.Paused"/>.
    /// </summary>
    ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken);

    /// <summary>
    /// Records <paramref name="state"/>, and <paramref name="error"/> as the last error when it is not
    /// null (null leaves the last error as it is), creating the row (at <see cref="Offset.Start"/>) if needed.
    /// </summary>
    ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken);
}
