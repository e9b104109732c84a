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
internal static class RecoveryPhase
{
    public static async Task RunAsync(EventSourcedRuntime runtime)
    {
        var behavior = runtime.Behavior;
        var persistenceId = runtime.PersistenceId;
        var options = runtime.Options;
        var time = runtime.Cell.System.TimeProvider;
        var position = new Position();
        try
        {
            runtime.Permit = new RecoveryPermit(runtime.Persistence.RecoveryPermits);
            await runtime.Permit.AcquireAsync();

            var recovery = behavior.Recovery;
            await OfferSnapshotAsync(runtime, recovery, time);

            if (recovery.ToSequenceNumber > runtime.LastSequenceNumber && recovery.ReplayMax > 0)
            {
                await ReplayAsync(runtime, recovery, position, time);
            }

            var highest = await Bounded(
                runtime.Persistence.Journal.ReadHighestSequenceNumberAsync(persistenceId, runtime.LastSequenceNumber, CancellationToken.None),
                "read of the highest sequence number", options.RecoveryEventTimeout, time);
            runtime.AssignedSequenceNumber = Math.Max(highest, runtime.LastSequenceNumber);
            runtime.LastSequenceNumber = runtime.AssignedSequenceNumber;
        }
        catch (Exception exception)
        {
            runtime.Permit?.Release();
            var failure = exception switch
            {
                RecoveryFailedException known => known,
                EventReadException read => new RecoveryFailedException(persistenceId, read.SequenceNumber, read.Manifest, read),
                SnapshotLoadException snapshot => new RecoveryFailedException(persistenceId, snapshot.Metadata.SequenceNumber, snapshot.Manifest, snapshot),
                _ => new RecoveryFailedException(persistenceId, position.SequenceNumber, position.Manifest, exception),
            };
            runtime.IsRecovering = false;
            behavior.OnRecoveryFailure(failure, position.Event);
            runtime.Stop();
            return;
        }

        runtime.Permit.Release();
        runtime.Permit = null;
        runtime.IsRecovering = false;
        behavior.OnRecoveryCompleted();
        runtime.Running.AfterHandler();
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
                store.LoadAsync(runtime.PersistenceId, recovery.FromSnapshot, CancellationToken.None),
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
        var events = runtime.Persistence.Journal
            .ReplayAsync(runtime.PersistenceId, runtime.LastSequenceNumber + 1, recovery.ToSequenceNumber, recovery.ReplayMax, CancellationToken.None)
            .GetAsyncEnumerator(CancellationToken.None);
        var completed = false;

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
                var move = events.MoveNextAsync();
                var hasNext = move.IsCompletedSuccessfully
                    ? move.Result
                    : await Bounded(move, $"replay of event {position.SequenceNumber}", options.RecoveryEventTimeout, time);
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
                _ = events.DisposeAsync().AsTask();
            }
        }
    }

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

    private static async Task<T> Bounded<T>(ValueTask<T> pending, string what, TimeSpan timeout, TimeProvider time)
    {
        if (pending.IsCompletedSuccessfully)
        {
            return pending.Result;
        }

        try
        {
            return await pending.AsTask().WaitAsync(timeout, time);
        }
        catch (TimeoutException)
        {
            throw new JournalTimeoutException(what, timeout);
        }
    }

    /// <summary>Where replay is, for the failure message.</summary>
    private sealed class Position
    {
        public long SequenceNumber;
        public string? Manifest;
        public object? Event;
    }
}
