using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections;

/// <summary>
/// A projection running in this process: its status, and pause, resume, reset and rebuild.
/// Returned by <see cref="ProjectionRegistry.Start"/>; find it again with <see cref="ProjectionRegistry.Find(ProjectionId)"/>.
/// </summary>
/// <remarks>
/// Management calls run one at a time. Pause, reset and rebuild wait for the batch in flight to
/// finish (it is not cancelled), so their cancellation token only stops the waiting.
/// </remarks>
public sealed class ProjectionHandle
{
    private readonly ProjectionRunner _runner;
    private readonly ProjectionRegistry _registry;

    internal ProjectionHandle(ProjectionRunner runner, ProjectionRegistry registry)
    {
        _runner = runner;
        _registry = registry;
    }

    /// <summary>The projection's name and source key.</summary>
    public ProjectionId Id => _runner.Id;

    /// <summary>The status as this process knows it, without I/O; <see cref="ProjectionStatus.Lag"/> is as last measured by <see cref="GetStatusAsync"/>.</summary>
    public ProjectionStatus Status => _runner.Status;

    /// <summary>
    /// The status with the lag measured now: the events of the source after the handled offset are
    /// counted (up to <see cref="ProjectionOptions.LagScanLimit"/>) and the newest one's timestamp is
    /// compared with the last handled event's.
    /// </summary>
    public Task<ProjectionStatus> GetStatusAsync(CancellationToken cancellationToken = default) => _runner.MeasureAsync(cancellationToken);

    /// <summary>
    /// Stops handling after the batch in flight and records the state <see cref="ProjectionState.Paused"/>.
    /// Completes when nothing is handled any more. Pausing a paused projection does nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The projection is stopped.</exception>
    public Task PauseAsync(CancellationToken cancellationToken = default) => _runner.PauseAsync(cancellationToken);

    /// <summary>Starts handling again from the stored offset (at once, also when it was waiting for a backoff delay). Resuming a running projection does nothing.</summary>
    /// <exception cref="InvalidOperationException">The projection is stopped.</exception>
    public Task ResumeAsync(CancellationToken cancellationToken = default) => _runner.ResumeAsync(cancellationToken);

    /// <summary>
    /// Stores <paramref name="offset"/> as the projection's offset, so it continues with the events
    /// after it (again, or skipping some). The read model is left as it is. A running projection is
    /// paused for the change and runs on after it; a paused one stays paused.
    /// </summary>
    /// <exception cref="InvalidOperationException">The projection is stopped.</exception>
    public Task ResetAsync(Offset offset, CancellationToken cancellationToken = default) => _runner.ResetAsync(offset, cancellationToken);

    /// <summary>
    /// Empties the read model with the projection's clear hook and resets the offset to the start,
    /// so every event is handled again. Exactly-once projections do both in one transaction. A running
    /// projection runs on after it; a paused one stays paused.
    /// </summary>
    /// <exception cref="InvalidOperationException">The projection is stopped.</exception>
    public Task RebuildAsync(CancellationToken cancellationToken = default) => _runner.RebuildAsync(cancellationToken);

    /// <summary>
    /// Completes when the projection has handled every event its source holds now. Finding the
    /// newest one reads the waiting events once, so this costs as much as the lag.
    /// </summary>
    public Task WaitForCatchUpAsync(CancellationToken cancellationToken = default) => _runner.WaitForCatchUpAsync(cancellationToken);

    /// <summary>Completes when the projection has handled the event at <paramref name="offset"/> (or a later one).</summary>
    public Task WaitForOffsetAsync(Offset offset, CancellationToken cancellationToken = default) => _runner.WaitForOffsetAsync(offset, cancellationToken);

    /// <summary>
    /// Stops the projection after the batch in flight, records the state <see cref="ProjectionState.Stopped"/>
    /// and removes it from the registry; it can then be started again. Calling it again is harmless.
    /// </summary>
    public async Task StopAsync()
    {
        await _runner.DisposeAsync();
        _registry.Remove(this);
    }

    /// <inheritdoc />
    public override string ToString() => Id.ToString();
}
