using Recall.Persistence.Snapshots;

namespace Recall.Persistence.Internal;

/// <summary>
/// An actor's calls to delete events and to save or delete snapshots: run one after another (so
/// a delete never overtakes the save before it), each answered to the actor with a success or
/// failure message. Shared by both APIs.
/// </summary>
internal sealed class StoreOperations(EventSourcedRuntime runtime)
{
    private Task _last = Task.CompletedTask;

    public void DeleteMessages(long toSequenceNumber)
    {
        var journal = runtime.Persistence.Journal;
        var id = runtime.PersistenceId;
        Run(
            async () => { await journal.DeleteToAsync(id, toSequenceNumber, CancellationToken.None); return new DeleteMessagesSuccess(toSequenceNumber); },
            cause => new DeleteMessagesFailure(toSequenceNumber, cause));
    }

    public void SaveSnapshot(object snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var metadata = new SnapshotMetadata(runtime.PersistenceId, runtime.LastSequenceNumber, runtime.Cell.System.TimeProvider.GetUtcNow());
        var store = runtime.Persistence.SnapshotStore;
        Run(
            async () => { await Require(store).SaveAsync(metadata, snapshot, CancellationToken.None); return new SaveSnapshotSuccess(metadata); },
            cause => new SaveSnapshotFailure(metadata, cause));
    }

    public void DeleteSnapshot(long sequenceNumber)
    {
        var metadata = new SnapshotMetadata(runtime.PersistenceId, sequenceNumber, default);
        var store = runtime.Persistence.SnapshotStore;
        Run(
            async () => { await Require(store).DeleteAsync(metadata, CancellationToken.None); return new DeleteSnapshotSuccess(metadata); },
            cause => new DeleteSnapshotFailure(metadata, cause));
    }

    public void DeleteSnapshots(SnapshotSelectionCriteria criteria)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        var id = runtime.PersistenceId;
        var store = runtime.Persistence.SnapshotStore;
        Run(
            async () => { await Require(store).DeleteAsync(id, criteria, CancellationToken.None); return new DeleteSnapshotsSuccess(criteria); },
            cause => new DeleteSnapshotsFailure(criteria, cause));
    }

    private static ISnapshotStore Require(ISnapshotStore? store) =>
        store ?? throw new InvalidOperationException("No snapshot store is configured: call UseSnapshotStore, or a store's Use... method that includes one.");

    private void Run(Func<Task<object>> operation, Func<Exception, object> failure)
    {
        var self = runtime.Cell.Self;
        var previous = _last;
        _last = RunAsync();

        async Task RunAsync()
        {
            await previous;
            object reply;
            try
            {
                reply = await operation();
            }
            catch (Exception exception)
            {
                reply = failure(exception);
            }

            self.Tell(reply, null);
        }
    }
}
