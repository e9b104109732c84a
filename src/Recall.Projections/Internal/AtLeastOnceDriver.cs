using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>At-least-once: the handler first, then the offset in an <see cref="IProjectionOffsetStore"/>.</summary>
internal sealed class AtLeastOnceDriver(
    ProjectionId id,
    IProjectionOffsetStore offsets,
    EnvelopeHandler? envelopeHandler,
    BatchHandler? batchHandler,
    Func<CancellationToken, Task>? clear) : ProjectionDriver
{
    public override async Task<StoredProjection?> StartAsync(CancellationToken cancellationToken)
    {
        await offsets.SaveStateAsync(id, ProjectionState.Running, null, cancellationToken);
        return await offsets.ReadAsync(id, cancellationToken);
    }

    public override async Task HandleAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken cancellationToken)
    {
        if (batchHandler is not null)
        {
            try
            {
                await batchHandler(batch, cancellationToken);
            }
            catch (Exception exception)
            {
                throw new ProjectionHandlerException(null, batch, exception);
            }
        }
        else
        {
            for (var i = 0; i < batch.Count; i++)
            {
                try
                {
                    await envelopeHandler!(batch[i], cancellationToken);
                }
                catch (Exception exception)
                {
                    // Keep what was handled: the restart then repeats only the failed envelope (and
                    // those sharing its offset), not the whole batch.
                    if (LastCompleteBefore(batch, i) is { } done)
                    {
                        try
                        {
                            await offsets.SaveOffsetAsync(id, done.Offset, done.Timestamp, cancellationToken);
                        }
                        catch (Exception)
                        {
                            // The restart repeats more envelopes; the handler is idempotent.
                        }
                    }

                    throw new ProjectionHandlerException(batch[i], batch, exception);
                }
            }
        }

        var last = batch[^1];
        await offsets.SaveOffsetAsync(id, last.Offset, last.Timestamp, cancellationToken);
    }

    public override async Task ResetAsync(Offset offset, CancellationToken cancellationToken) =>
        await offsets.SaveOffsetAsync(id, offset, null, cancellationToken);

    public override async Task RebuildAsync(CancellationToken cancellationToken)
    {
        // Offset first: a crash before the clear leaves duplicates for an idempotent handler, never a gap.
        await offsets.SaveOffsetAsync(id, Offset.Start, null, cancellationToken);
        if (clear is not null)
        {
            await clear(cancellationToken);
        }
    }

    public override async Task SaveStateAsync(ProjectionState state, string? error, CancellationToken cancellationToken) =>
        await offsets.SaveStateAsync(id, state, error, cancellationToken);

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
