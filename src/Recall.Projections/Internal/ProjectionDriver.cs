using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// The target half of a running projection: prepares the read model, applies batches and stores
/// offsets and state. The runner calls it from one task at a time (management calls only while
/// the run is parked), so a driver needs no locking.
/// </summary>
internal abstract class ProjectionDriver : IAsyncDisposable
{
    /// <summary>Prepares the target (tables, the setup hook), marks the projection running and reads its stored offset.</summary>
    public abstract Task<StoredProjection?> StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="batch"/> and stores the offset of its last envelope: in one transaction
    /// (exactly-once) or after the handler (at-least-once). A handler failure is thrown as
    /// <see cref="ProjectionHandlerException"/>.
    /// </summary>
    public abstract Task HandleAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="offset"/> (a reset), keeping the read model as it is.</summary>
    public abstract Task ResetAsync(Offset offset, CancellationToken cancellationToken);

    /// <summary>Runs the clear hook and resets the offset to the start (in one transaction where the target has them).</summary>
    public abstract Task RebuildAsync(CancellationToken cancellationToken);

    /// <summary>Records the state (and the error, when not null).</summary>
    public abstract Task SaveStateAsync(ProjectionState state, string? error, CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// The offset up to which the envelopes before <paramref name="failedIndex"/> are complete: the
    /// last offset before the failed envelope's, so that envelopes sharing the failed envelope's
    /// offset are handled again. Null when nothing before it is complete.
    /// </summary>
    protected static EventEnvelope? LastCompleteBefore(IReadOnlyList<EventEnvelope> batch, int failedIndex)
    {
        for (var i = failedIndex - 1; i >= 0; i--)
        {
            if (batch[i].Offset != batch[failedIndex].Offset)
            {
                return batch[i];
            }
        }

        return null;
    }
}

/// <summary>A handler threw: carries the envelope it failed on (or the batch, for batch handlers) for the log.</summary>
internal sealed class ProjectionHandlerException(EventEnvelope? envelope, IReadOnlyList<EventEnvelope> batch, Exception inner)
    : Exception(inner.Message, inner)
{
    /// <summary>The envelope the handler failed on, or null when a batch handler failed.</summary>
    public EventEnvelope? Envelope { get; } = envelope;

    /// <summary>The batch being handled.</summary>
    public IReadOnlyList<EventEnvelope> Batch { get; } = batch;
}

/// <summary>The stored offset is not the one this projection last stored: another instance of the same projection id runs.</summary>
internal sealed class ProjectionOffsetConflictException(ProjectionId id, Offset expected)
    : Exception($"The stored offset of projection {id} is no longer {expected}: another instance of it runs (or its offset was reset from outside); this batch was rolled back and the projection starts again from the stored offset.");
