using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Semantics 7: DeleteMessages, SaveSnapshot, DeleteSnapshot, DeleteSnapshots and their replies.</summary>
public sealed class SnapshotAndDeleteTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Deleting_every_event_keeps_the_highest_sequence_number_so_new_events_continue_after_it()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-1", "e1", "e2", "e3");

        actor.Tell(new DeleteEvents(long.MaxValue));

        await _h.Log.ExpectMsgAsync(new DeleteMessagesSuccess(long.MaxValue));
        Assert.Empty(await _h.StoredAsync("d-1"));
        await _h.StopAsync(actor);

        var (again, recovered) = await _h.SpawnRecoveredAsync("d-1");
        Assert.Equal(new Recovered(3, ""), recovered);
        again.Tell(new Cmd("c", Persist("e4")));
        await _h.Log.ExpectMsgAsync(new Received("c"));
        await _h.Log.ExpectMsgAsync(new Handled("e4", 4));
        Assert.Equal([4L], (await _h.StoredAsync("d-1")).Select(r => r.SequenceNumber));
    }

    [Fact]
    public async Task Deleting_some_events_leaves_the_rest_to_replay()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-2", "e1", "e2", "e3");

        actor.Tell(new DeleteEvents(2));
        await _h.Log.ExpectMsgAsync(new DeleteMessagesSuccess(2));
        await _h.StopAsync(actor);

        _h.Spawn("d-2");
        await _h.Log.ExpectMsgAsync(new Replayed("e3", 3));
        await _h.Log.ExpectMsgAsync(new Recovered(3, "e3"));
    }

    [Fact]
    public async Task A_failed_delete_of_events_replies_DeleteMessagesFailure_and_the_actor_goes_on()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-3", "e1", "e2");
        _h.Journal.Fail(StoreOperation.DeleteEvents, "d-3", times: 1);

        actor.Tell(new DeleteEvents(2));

        var failure = await _h.Log.ExpectMsgAsync<DeleteMessagesFailure>();
        Assert.Equal(2, failure.ToSequenceNumber);
        Assert.IsType<InjectedFaultException>(failure.Cause);
        Assert.Equal(2, (await _h.StoredAsync("d-3")).Count);
        actor.Tell(new Cmd("c", Persist("e3")));
        await _h.Log.ExpectMsgAsync(new Received("c"));
        await _h.Log.ExpectMsgAsync(new Handled("e3", 3));
    }

    [Fact]
    public async Task SaveSnapshot_replies_success_with_the_metadata_of_the_last_event()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-4", "e1", "e2");

        actor.Tell(new TakeSnapshot());

        var saved = await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        Assert.Equal(("d-4", 2L), (saved.Metadata.PersistenceId, saved.Metadata.SequenceNumber));
        var loaded = await _h.Snapshots!.Inner.LoadAsync("d-4", SnapshotSelectionCriteria.Latest, CancellationToken.None);
        Assert.Equal(["e1", "e2"], Assert.IsType<RecorderSnapshot>(loaded!.Snapshot).Events);
    }

    [Fact]
    public async Task DeleteSnapshot_and_DeleteSnapshots_reply_success_and_recovery_no_longer_sees_the_deleted_snapshots()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-5", "e1", "e2");
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        actor.Tell(new Cmd("c", Persist("e3"), Persist("e4")));
        await _h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 4);
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();

        actor.Tell(new DeleteSnapshotAt(4));
        var deleted = await _h.Log.ExpectMsgAsync<DeleteSnapshotSuccess>();
        Assert.Equal(("d-5", 4L), (deleted.Metadata.PersistenceId, deleted.Metadata.SequenceNumber));
        await _h.StopAsync(actor);
        var (again, _) = await SpawnExpectingFirstStepAsync(new SnapshotOffered(2, "e1,e2"));

        again.Tell(new DeleteSnapshotsMatching(SnapshotSelectionCriteria.Latest));
        await _h.Log.ExpectMsgAsync(new DeleteSnapshotsSuccess(SnapshotSelectionCriteria.Latest));
        await _h.StopAsync(again);
        await SpawnExpectingFirstStepAsync(new Replayed("e1", 1));

        async Task<(IActorRef, object)> SpawnExpectingFirstStepAsync(object first)
        {
            var recovering = _h.Spawn("d-5");
            await _h.Log.ExpectMsgAsync(first);
            await _h.Log.FishForMessageAsync<Recovered>(r => r.State == "e1,e2,e3,e4");
            return (recovering, first);
        }
    }

    [Fact]
    public async Task Without_a_snapshot_store_the_snapshot_operations_reply_failure_and_the_actor_goes_on()
    {
        await using var h = PersistenceHarness.Create(withSnapshotStore: false);
        var actor = await SpawnWithEventsAsync(h, "d-6", "e1");

        actor.Tell(new TakeSnapshot());
        var saveFailure = await h.Log.ExpectMsgAsync<SaveSnapshotFailure>();
        Assert.Equal(("d-6", 1L), (saveFailure.Metadata.PersistenceId, saveFailure.Metadata.SequenceNumber));
        Assert.Contains("No snapshot store is configured", saveFailure.Cause.Message);

        actor.Tell(new DeleteSnapshotAt(1));
        Assert.IsType<InvalidOperationException>((await h.Log.ExpectMsgAsync<DeleteSnapshotFailure>(f => f.Metadata.SequenceNumber == 1)).Cause);

        actor.Tell(new DeleteSnapshotsMatching(SnapshotSelectionCriteria.Latest));
        Assert.IsType<InvalidOperationException>((await h.Log.ExpectMsgAsync<DeleteSnapshotsFailure>(f => f.Criteria == SnapshotSelectionCriteria.Latest)).Cause);

        actor.Tell(new Cmd("c", Persist("e2")));
        await h.Log.ExpectMsgAsync(new Received("c"));
        await h.Log.ExpectMsgAsync(new Handled("e2", 2));
    }

    [Fact]
    public async Task A_failing_snapshot_store_makes_save_and_deletes_reply_failure()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-7", "e1");
        var snapshots = _h.Snapshots!;
        snapshots.FailSaves("d-7", times: 1);
        snapshots.FailDeletes("d-7", times: 2);

        actor.Tell(new TakeSnapshot());
        Assert.IsType<InjectedFaultException>((await _h.Log.ExpectMsgAsync<SaveSnapshotFailure>()).Cause);
        actor.Tell(new DeleteSnapshotAt(1));
        Assert.IsType<InjectedFaultException>((await _h.Log.ExpectMsgAsync<DeleteSnapshotFailure>()).Cause);
        actor.Tell(new DeleteSnapshotsMatching(SnapshotSelectionCriteria.Latest));
        Assert.IsType<InjectedFaultException>((await _h.Log.ExpectMsgAsync<DeleteSnapshotsFailure>()).Cause);

        // The faults are used up: the store works again.
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        Assert.NotNull(await snapshots.Inner.LoadAsync("d-7", SnapshotSelectionCriteria.Latest, CancellationToken.None));
    }

    [Fact]
    public async Task Snapshot_and_delete_operations_complete_in_the_order_they_were_requested()
    {
        var actor = await SpawnWithEventsAsync(_h, "d-8", "e1");
        _h.Snapshots!.Stall(StoreOperation.SaveSnapshot, "d-8", times: 1);

        actor.Tell(new TakeSnapshot());
        await _h.Snapshots.WaitForStalledAsync();
        actor.Tell(new DeleteSnapshotsMatching(SnapshotSelectionCriteria.Latest));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100)); // the delete waits for the save before it
        _h.Snapshots.ReleaseStalled();

        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        await _h.Log.ExpectMsgAsync<DeleteSnapshotsSuccess>();
        Assert.Null(await _h.Snapshots.Inner.LoadAsync("d-8", SnapshotSelectionCriteria.Latest, CancellationToken.None));
    }

    private static async Task<IActorRef> SpawnWithEventsAsync(PersistenceHarness h, string persistenceId, params string[] events)
    {
        var (actor, _) = await h.SpawnRecoveredAsync(persistenceId);
        actor.Tell(new Cmd("setup", [.. events.Select(e => Persist(e))]));
        await h.Log.ExpectMsgAsync(new Received("setup"));
        for (var i = 0; i < events.Length; i++)
        {
            await h.Log.ExpectMsgAsync(new Handled(events[i], i + 1));
        }

        return actor;
    }
}
