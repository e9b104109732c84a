using System.Diagnostics;
using Recall.Persistence.Journal;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence.Internal;

/// <summary>
/// First of two phases (next: <see cref="RunningPhase"/>). Waits for a recovery permit, offers the
/// newest matching snapshot, replays the events after it in order through the replay filter and
/// the event adapters, reads the highest sequence number, and hands what it recovered
/// (<see cref="Recovered"/>) to the runtime, which makes the running phase from it. Runs as the
/// actor's async handler, so commands wait in the mailbox; each store call that does not finish at
/// once is bounded by <see cref="PersistenceOptions.RecoveryEventTimeout"/>.
/// </summary>
/// <remarks>
/// Store calls start without the actor's synchronization context, so the store's own awaits resume
/// on the thread pool and only their results come back to the actor: a store call that outlives
/// the actor (a timeout, a stop) still runs to its end and releases its connection. They carry this
/// recovery's token, cancelled when the actor stops or restarts during it.
/// </remarks>
internal sealed class RecoveryPhase(EventSourcedRuntime runtime)
{
    private readonly RecoveryPermit _permit = new(runtime.Persistence.RecoveryPermits);
    private CancellationTokenSource? _cancellation;

    // Where replay is, for the failure message: the event being read or applied, or none (0).
    private long _position;
    private string? _manifest;
    private object? _event;
    private long _replayed; // events applied, for the metrics

    /// <summary>The sequence number of the last event applied (of the snapshot before the first event).</summary>
    public long LastSequenceNumber { get; private set; }

    /// <summary>The sequence number of the snapshot recovery started from, or 0.</summary>
    public long SnapshotSequenceNumber { get; private set; }

    /// <summary>Carried by the store calls of this recovery (see the remarks above).</summary>
    private CancellationToken Cancellation => (_cancellation ??= new CancellationTokenSource()).Token;

    public async Task RunAsync()
    {
        var behavior = runtime.Behavior;
        var persistenceId = runtime.PersistenceId;
        var options = runtime.Options;
        var time = runtime.Cell.System.TimeProvider;
        var started = Stopwatch.GetTimestamp();
        using var activity = PersistenceTelemetry.Source.HasListeners() ? PersistenceTelemetry.StartActivity("recall.recover", runtime) : null;
        try
        {
            await _permit.AcquireAsync();

            // A write of this id that timed out may still commit: read the history once it has ended.
            if (runtime.Persistence.AbandonedWrites.Of(persistenceId) is { } abandoned)
            {
                // WhenAny: however the write ended, it has ended.
                await Bounded(Task.WhenAny(abandoned), $"write of '{persistenceId}' that timed out earlier", options.RecoveryEventTimeout, time);
            }

            // A new owner raises the fence before it reads: no older owner's write lands after this.
            var cancellation = Cancellation;
            if (runtime.FencingToken is { } token && runtime.Persistence.Journal is IFencingJournal fencing
                && !await Bounded(OffActor(() => fencing.FenceAsync(persistenceId, token, cancellation)), "raise of the fencing token", options.RecoveryEventTimeout, time))
            {
                throw new FencedWriteException(persistenceId, 0, token);
            }

            var recovery = behavior.Recovery;
            await OfferSnapshotAsync(recovery, time);

            if (recovery.ToSequenceNumber > LastSequenceNumber && recovery.ReplayMax > 0)
            {
                await ReplayAsync(recovery, time);
            }

            MoveTo(0, null, null); // a failure from here on is not at any event
            var from = LastSequenceNumber;
            var highest = await Bounded(
                OffActor(() => runtime.Persistence.Journal.ReadHighestSequenceNumberAsync(persistenceId, from, cancellation)),
                "read of the highest sequence number", options.RecoveryEventTimeout, time);
            LastSequenceNumber = Math.Max(highest, LastSequenceNumber);
        }
        catch (Exception exception)
        {
            _permit.Release();
            if (runtime.IsAbandoned)
            {
                return; // stopped or restarted meanwhile: nothing of this incarnation is left to fail
            }

            var failure = exception switch
            {
                RecoveryFailedException known => known,
                EventReadException read => new RecoveryFailedException(persistenceId, read.SequenceNumber, read.Manifest, read),
                SnapshotLoadException snapshot => new RecoveryFailedException(persistenceId, snapshot.Metadata.SequenceNumber, snapshot.Manifest, snapshot),
                _ => new RecoveryFailedException(persistenceId, _position, _manifest, exception),
            };
            Measure(started, activity, failure);
            EventSourcedRuntime.Log.RecoveryFailed(runtime.Logger, failure, persistenceId);

            // Before the hook, so that the actor stops even if the hook throws: its state is unknown.
            runtime.Stop($"its recovery failed: {failure.Message}");
            behavior.OnRecoveryFailure(failure, _event);
            return;
        }

        _permit.Release();
        if (runtime.IsAbandoned)
        {
            return;
        }

        var running = runtime.BeginRunning(new Recovered(LastSequenceNumber, SnapshotSequenceNumber));
        Measure(started, activity, null);
        behavior.OnRecoveryCompleted();
        running.SendPersisted();
    }

    /// <summary>The actor stopped or restarts: give the permit back and, while still recovering, cancel the store calls.</summary>
    public void Abandon(bool cancel)
    {
        _permit.Release();
        if (cancel && _cancellation is { } cancellation)
        {
            // Not on the actor's thread: a store may do I/O when told to cancel (PostgreSQL sends a cancel request).
            _ = cancellation.CancelAsync();
        }
    }

    private void Measure(long started, Activity? activity, Exception? failure)
    {
        var system = runtime.Cell.System.Name;
        if (PersistenceTelemetry.RecoveryDuration.Enabled)
        {
            PersistenceTelemetry.RecordDuration(PersistenceTelemetry.RecoveryDuration, started, system, failure);
        }

        if (_replayed > 0 && PersistenceTelemetry.EventsReplayed.Enabled)
        {
            PersistenceTelemetry.EventsReplayed.Add(_replayed, PersistenceTelemetry.SystemTag(system));
        }

        if (activity is not null)
        {
            activity.SetTag("recall.events_replayed", _replayed);
            activity.SetTag("recall.sequence_number", LastSequenceNumber);
            if (failure is not null)
            {
                PersistenceTelemetry.SetError(activity, failure);
            }
        }
    }

    private async Task OfferSnapshotAsync(Recovery recovery, TimeProvider time)
    {
        var store = runtime.Persistence.SnapshotStore;
        if (store is null || recovery.FromSnapshot.MaxSequenceNumber <= 0)
        {
            return;
        }

        SelectedSnapshot? selected;
        try
        {
            var cancellation = Cancellation;
            selected = await Bounded(
                OffActor(() => store.LoadAsync(runtime.PersistenceId, recovery.FromSnapshot, cancellation)),
                "snapshot load", runtime.Options.RecoveryEventTimeout, time);
        }
        catch (SnapshotLoadException exception) when (runtime.Options.SnapshotIsOptional)
        {
            EventSourcedRuntime.Log.SnapshotSkipped(runtime.Logger, exception, runtime.PersistenceId);
            return;
        }

        if (selected is null)
        {
            return;
        }

        LastSequenceNumber = SnapshotSequenceNumber = selected.Metadata.SequenceNumber;
        runtime.Behavior.ApplySnapshot(new SnapshotOffer(selected.Metadata, selected.Snapshot));
    }

    private async Task ReplayAsync(Recovery recovery, TimeProvider time)
    {
        var options = runtime.Options;
        var filter = options.ReplayFilter == ReplayFilterMode.Off
            ? null
            : new ReplayFilter(runtime.PersistenceId, options.ReplayFilter, window: 100, problem => EventSourcedRuntime.Log.ReplayFilterWarning(runtime.Logger, problem));
        var passed = filter is null ? null : new List<PersistentRepr>();
        var cancellation = Cancellation;
        var from = LastSequenceNumber + 1;
        var events = OffActor(() => runtime.Persistence.Journal
            .ReplayAsync(runtime.PersistenceId, from, recovery.ToSequenceNumber, recovery.ReplayMax, cancellation)
            .GetAsyncEnumerator(cancellation));
        var completed = false;
        Task<bool>? pendingMove = null;

        // The filter holds back a window of events, so the last event applied can lag behind the
        // last one read: a failure is reported at the event being read, not the one being applied.
        var lastRead = LastSequenceNumber;
        try
        {
            while (true)
            {
                MoveTo(lastRead + 1, null, null);
                ValueTask<bool> move;
                using (new WithoutActorContext())
                {
                    move = events.MoveNextAsync(); // no closure: once per event
                }

                bool hasNext;
                if (move.IsCompletedSuccessfully)
                {
                    hasNext = move.Result;
                }
                else
                {
                    pendingMove = move.AsTask();
                    hasNext = await Bounded(pendingMove, $"replay of event {_position}", options.RecoveryEventTimeout, time);
                    pendingMove = null;
                }

                if (!hasNext)
                {
                    break;
                }

                var current = events.Current;
                lastRead = current.SequenceNumber;
                if (filter is null)
                {
                    Apply(current);
                    continue;
                }

                MoveTo(current.SequenceNumber, current.Manifest, null);
                filter.Add(current, passed!);
                ApplyAll(passed!);
            }

            if (filter is not null)
            {
                filter.Complete(passed!);
                ApplyAll(passed!);
            }

            completed = true;
        }
        finally
        {
            // A stalled store may never finish disposing: only wait for it after a clean replay.
            if (completed)
            {
                await events.DisposeAsync();
            }
            else
            {
                DisposeInBackground(events, pendingMove);
            }
        }
    }

    /// <summary>
    /// Disposes the replay of a failed recovery without waiting for it. An async enumerator must
    /// not be disposed while a MoveNextAsync is pending (compiler-generated ones throw
    /// NotSupportedException, which would hide the timeout), so a pending move is awaited first,
    /// however long the store takes. Off the actor, which may have stopped by then; errors of an
    /// abandoned replay are of no interest.
    /// </summary>
    private static void DisposeInBackground(IAsyncEnumerator<PersistentRepr> events, Task<bool>? pendingMove) =>
        _ = Task.Run(async () =>
        {
            try
            {
                if (pendingMove is not null)
                {
                    await pendingMove;
                }
            }
            catch (Exception)
            {
                // The move failed: the enumerator has finished; disposing it is still harmless.
            }

            try
            {
                await events.DisposeAsync();
            }
            catch (Exception)
            {
                // Nothing to do about a store that cannot clean up an abandoned replay.
            }
        });

    private void MoveTo(long sequenceNumber, string? manifest, object? @event)
    {
        _position = sequenceNumber;
        _manifest = manifest;
        _event = @event;
    }

    private void ApplyAll(List<PersistentRepr> passed)
    {
        foreach (var repr in passed)
        {
            Apply(repr);
        }

        passed.Clear();
    }

    private void Apply(PersistentRepr repr)
    {
        MoveTo(repr.SequenceNumber, repr.Manifest, null);
        _replayed++;
        LastSequenceNumber = repr.SequenceNumber;
        var adapters = runtime.Options.Adapters;
        if (adapters.IsEmpty)
        {
            _event = repr.Payload;
            runtime.Behavior.ApplyEvent(repr.Payload);
            return;
        }

        foreach (var @event in adapters.FromJournal(repr.Payload, repr.Manifest))
        {
            _event = @event;
            runtime.Behavior.ApplyEvent(@event);
        }
    }

    /// <summary>Starts a store call without the actor's synchronization context (see the remarks above).</summary>
    private static T OffActor<T>(Func<T> call)
    {
        using (new WithoutActorContext())
        {
            return call();
        }
    }

    private static async Task<T> Bounded<T>(ValueTask<T> pending, string what, TimeSpan timeout, TimeProvider time) =>
        pending.IsCompletedSuccessfully ? pending.Result : await Bounded(pending.AsTask(), what, timeout, time);

    private static async Task<T> Bounded<T>(Task<T> pending, string what, TimeSpan timeout, TimeProvider time)
    {
        try
        {
            return await pending.WaitAsync(timeout, time);
        }
        catch (TimeoutException)
        {
            throw new JournalTimeoutException(what, timeout);
        }
    }

    /// <summary>Clears the current synchronization context until disposed.</summary>
    private readonly struct WithoutActorContext : IDisposable
    {
        private readonly SynchronizationContext? _saved;

        public WithoutActorContext()
        {
            _saved = SynchronizationContext.Current;
            SynchronizationContext.SetSynchronizationContext(null);
        }

        public void Dispose() => SynchronizationContext.SetSynchronizationContext(_saved);
    }
}

/// <summary>What recovery hands to the running phase.</summary>
/// <param name="SequenceNumber">The highest sequence number, of the journal or of the events applied: the last one stored and applied, the next event's minus one.</param>
/// <param name="SnapshotSequenceNumber">The sequence number of the snapshot recovery started from, or 0.</param>
internal readonly record struct Recovered(long SequenceNumber, long SnapshotSequenceNumber);
