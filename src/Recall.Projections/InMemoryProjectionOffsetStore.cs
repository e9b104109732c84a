using System.Collections.Concurrent;
using Recall.Persistence.Query;

namespace Recall.Projections;

/// <summary>
/// Offsets in process memory: for tests, and for read models that live in memory too and are
/// rebuilt from offset zero at every start anyway.
/// </summary>
/// <param name="timeProvider">The clock of <see cref="StoredProjection.UpdatedAt"/>; the system clock by default.</param>
public sealed class InMemoryProjectionOffsetStore(TimeProvider? timeProvider = null) : IProjectionOffsetStore
{
    private readonly ConcurrentDictionary<ProjectionId, StoredProjection> _rows = new();
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Every stored row, in no particular order.</summary>
    public IReadOnlyList<StoredProjection> Rows => [.. _rows.Values];

    /// <inheritdoc />
    public ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_rows.TryGetValue(id, out var row) ? row : null);

    /// <inheritdoc />
    public ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _rows.AddOrUpdate(
            id,
            static (id, a) => new StoredProjection(id, a.offset, a.lastEventTimestamp, ProjectionState.Running, null, a.now),
            static (_, row, a) => row with
            {
                Offset = a.offset,
                LastEventTimestamp = a.lastEventTimestamp,
                State = row.State == ProjectionState.Paused ? ProjectionState.Paused : ProjectionState.Running,
                UpdatedAt = a.now,
            },
            (offset, lastEventTimestamp, now));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _rows.AddOrUpdate(
            id,
            static (id, a) => new StoredProjection(id, Offset.Start, null, a.state, a.error, a.now),
            static (_, row, a) => row with { State = a.state, LastError = a.error ?? row.LastError, UpdatedAt = a.now },
            (state, error, now));
        return ValueTask.CompletedTask;
    }
}
