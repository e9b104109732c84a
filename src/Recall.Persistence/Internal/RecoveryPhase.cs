using System.Diagnostics;
using Recall.Persistence.Journal;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence.Internal;

/// <summary>
/// First of two phases (next: <see cref="RunningPhase"/>). Waits for a recovery permit, offers the
/// newest matching snapshot, replays the events after it in order through the replay filter and
/// the event adapters, reads the highest sequence number, and completes. Runs as the actor's async
/// handler, so commands wait in the mailbox; each store call that does not finish at once is
/// bounded by <see cref="PersistenceOptions.RecoveryEventTimeout"/>.
/// </summary>
/// <remarks>
/// Store calls start without the actor's synchronization context, so the store's own awaits resume
/// on the thread pool and only their results come back to the actor: a store call that outlives
/// the actor (a timeout, a stop) still runs to its end and releases its connection. They carry the
/// incarnation's token, cancelled when the actor stops or restarts.
/// </remarks>
internal static class RecoveryPhase
{
    public static async Task RunAsync(EventSourcedRuntime runtime)
    {
        var behavior = runtime.Behavior;
        var persistenceId = runtime.PersistenceId;
        var options = runtime.Options;
        var time = runtime.Cell.System.TimeProvider;
        var position = new Position();
        var started = Stopwatch.GetTimestamp();
        using var activity = PersistenceTelemetry.Source.HasListeners() ? PersistenceTelemetry.StartActivity("recall.recover", runtime) : null;
        try
        {
            runtime.Permit = new RecoveryPermit(runtime.Persistence.RecoveryPermits);
            await runtime.Permit.AcquireAsync();

            // A write of this id that timed out may still commit: read the history once it has ended.
            if (runtime.Persistence.AbandonedWrites.Of(persistenceId) is { } abandoned)
            {
                // WhenAny: however the write ended, it has ended.
                await Bounded(Task.WhenAny(abandoned), $"write of '{persistenceId}' that timed out earlier", options.RecoveryEventTimeout, time);
            }

            // A new owner raises the fence before it reads: no older owner's write lands after this.
            var cancellation = runtime.RecoveryCancellation;
            if (runtime.FencingToken is { } token && runtime.Persistence.Journal is IFencingJournal fencing
                && !await Bounded(OffActor(() => fencing.FenceAsync(persistenceId, token, cancellation)), "raise of the fencing token", options.RecoveryEventTimeout, time))
            {
                throw new FencedWriteException(persistenceId, 0, token);
            }

            var recovery = behavior.Recovery;
            await OfferSnapshotAsync(runtime, recovery, time);

            if (recovery.ToSequenceNumber > runtime.LastSequenceNumber && recovery.ReplayMax > 0)
            {
                await ReplayAsync(runtime, recovery, position, time);
            }

            position = new Position { Replayed = position.Replayed }; // a failure from here on is not at any event
            var from = runtime.LastSequenceNumber;
            var highest = await Bounded(
                OffActor(() => runtime.Persistence.Journal.ReadHighestSequenceNumberAsync(persistenceId, from, cancellation)),
                "read of the highest sequence number", options.RecoveryEventTimeout, time);
            runtime.AssignedSequenceNumber = Math.Max(highest, runtime.LastSequenceNumber);
            runtime.LastSequenceNumber = runtime.AssignedSequenceNumber;
        }
        catch (Exception exception)
        {
            runtime.Permit?.Release();
            if (runtime.IsAbandoned)
            {
                return; // stopped or restarted meanwhile: nothing of this incarnation is left to fail
            }

            var failure = exception switch
            {
                RecoveryFailedException known => known,
                EventReadException read => new RecoveryFailedException(persistenceId, read.SequenceNumber, read.Manifest, read),
                SnapshotLoadException snapshot => new RecoveryFailedException(persistenceId, snapshot.Metadata.SequenceNumber, snapshot.Manifest, snapshot),
                _ => new RecoveryFailedException(persistenceId, position.SequenceNumber, position.Manifest, exception),
            };
            runtime.IsRecovering = false;
            Measure(runtime, started, position.Replayed, activity, failure);
            EventSourcedRuntime.Log.RecoveryFailed(runtime.Logger, failure, persistenceId);
            try
            {
                behavior.OnRecoveryFailure(failure, position.Event);
            }
            finally
            {
                // Even if the hook throws, the actor stops: its state is unknown.
                runtime.Stop($"its recovery failed: {failure.Message}");
            }

            return;
        }

        runtime.Permit.Release();
        runtime.Permit = null;
        if (runtime.IsAbandoned)
        {
            return;
        }

        runtime.IsRecovering = false;
        Measure(runtime, started, position.Replayed, activity, null);
        behavior.OnRecoveryCompleted();
        runtime.Running.SendPersisted();
    }

    private static void Measure(EventSourcedRuntime runtime, long started, long replayed, Activity? activity, Exception? failure)
    {
        var system = runtime.Cell.System.Name;
        if (PersistenceTelemetry.RecoveryDuration.Enabled)
        {
            PersistenceTelemetry.RecordDuration(PersistenceTelemetry.RecoveryDuration, started, system, failure);
        }

        if (replayed > 0 && PersistenceTelemetry.EventsReplayed.Enabled)
        {
            PersistenceTelemetry.EventsReplayed.Add(replayed, PersistenceTelemetry.SystemTag(system));
        }

        if (activity is not null)
        {
            activity.SetTag("recall.events_replayed", replayed);
            activity.SetTag("recall.sequence_number", runtime.LastSequenceNumber);
            if (failure is not null)
            {
                PersistenceTelemetry.SetError(activity, failure);
            }
        }
    }

    private static async Task OfferSnapshotAsync(EventSourcedRuntime runtime, Recovery recovery, TimeProvider time)
    {
        var store = runtime.Persistence.SnapshotStore;
        if (store is null || recovery.FromSnapshot.MaxSequenceNumber <= 0)
        {
            return;
        }

        SelectedSnapshot? selected;
        try
        {
            selected = await Bounded(
                OffActor(() => store.LoadAsync(runtime.PersistenceId, recovery.FromSnapshot, runtime.RecoveryCancellation)),
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

        var sequenceNumber = selected.Metadata.SequenceNumber;
        runtime.LastSequenceNumber = runtime.AssignedSequenceNumber = runtime.SnapshotSequenceNumber = sequenceNumber;
        runtime.Behavior.ApplySnapshot(new SnapshotOffer(selected.Metadata, selected.Snapshot));
    }

    private static async Task ReplayAsync(EventSourcedRuntime runtime, Recovery recovery, Position position, TimeProvider time)
    {
        var options = runtime.Options;
        var filter = options.ReplayFilter == ReplayFilterMode.Off
            ? null
            : new ReplayFilter(runtime.PersistenceId, options.ReplayFilter, window: 100, problem => EventSourcedRuntime.Log.ReplayFilterWarning(runtime.Logger, problem));
        var passed = filter is null ? null : new List<PersistentRepr>();
        var cancellation = runtime.RecoveryCancellation;
        var from = runtime.LastSequenceNumber + 1;
        var events = OffActor(() => runtime.Persistence.Journal
            .ReplayAsync(runtime.PersistenceId, from, recovery.ToSequenceNumber, recovery.ReplayMax, cancellation)
            .GetAsyncEnumerator(cancellation));
        var completed = false;
        Task<bool>? pendingMove = null;

        // The filter holds back a window of events, so the last event applied can lag behind the
        // last one read: a failure is reported at the event being read, not the one being applied.
        var lastRead = runtime.LastSequenceNumber;
        try
        {
            while (true)
            {
                position.SequenceNumber = lastRead + 1;
                position.Manifest = null;
                position.Event = null;
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
                    hasNext = await Bounded(pendingMove, $"replay of event {position.SequenceNumber}", options.RecoveryEventTimeout, time);
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
                    Apply(runtime, current, position);
                    continue;
                }

                position.SequenceNumber = current.SequenceNumber;
                position.Manifest = current.Manifest;
                filter.Add(current, passed!);
                ApplyAll(runtime, passed!, position);
            }

            if (filter is not null)
            {
                filter.Complete(passed!);
                ApplyAll(runtime, passed!, position);
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

    private static void ApplyAll(EventSourcedRuntime runtime, List<PersistentRepr> passed, Position position)
    {
        foreach (var repr in passed)
        {
            Apply(runtime, repr, position);
        }

        passed.Clear();
    }

    private static void Apply(EventSourcedRuntime runtime, PersistentRepr repr, Position position)
    {
        position.SequenceNumber = repr.SequenceNumber;
        position.Manifest = repr.Manifest;
        position.Replayed++;
        runtime.LastSequenceNumber = repr.SequenceNumber;
        var adapters = runtime.Options.Adapters;
        if (adapters.IsEmpty)
        {
            position.Event = repr.Payload;
            runtime.Behavior.ApplyEvent(repr.Payload);
            return;
        }

        foreach (var @event in adapters.FromJournal(repr.Payload, repr.Manifest))
        {
            position.Event = @event;
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

    /// <summary>Where replay is, for the failure message.</summary>
    private sealed class Position
    {
        public long SequenceNumber;
        public string? Manifest;
        public object? Event;
        public long Replayed;   // events applied, for the metrics
    }
}
