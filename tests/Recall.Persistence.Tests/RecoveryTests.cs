using Microsoft.Extensions.Time.Testing;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Semantics 5 and 7: recovery from snapshot and events, Recovery settings, LastSequenceNumber.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Recovery_offers_the_snapshot_then_replays_the_later_events_in_order_then_completes()
    {
        var (actor, first) = await _h.SpawnRecoveredAsync("r-1");
        Assert.Equal(new Recovered(0, ""), first);
        await PersistAsync(actor, "e1", "e2", "e3");
        actor.Tell(new TakeSnapshot());
        var saved = await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        Assert.Equal(("r-1", 3L), (saved.Metadata.PersistenceId, saved.Metadata.SequenceNumber));
        await PersistAsync(actor, "e4", "e5");
        await _h.StopAsync(actor);

        _h.Spawn("r-1");

        await _h.Log.ExpectMsgAsync(new SnapshotOffered(3, "e1,e2,e3"));
        await _h.Log.ExpectMsgAsync(new Replayed("e4", 4));
        await _h.Log.ExpectMsgAsync(new Replayed("e5", 5));
        await _h.Log.ExpectMsgAsync(new Recovered(5, "e1,e2,e3,e4,e5"));
    }

    [Fact]
    public async Task Recovery_without_a_snapshot_replays_every_event_with_its_sequence_number()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-2");
        await PersistAsync(actor, "e1", "e2", "e3");
        await _h.StopAsync(actor);

        _h.Spawn("r-2");

        await _h.Log.ExpectMsgAsync(new Replayed("e1", 1));
        await _h.Log.ExpectMsgAsync(new Replayed("e2", 2));
        await _h.Log.ExpectMsgAsync(new Replayed("e3", 3));
        await _h.Log.ExpectMsgAsync(new Recovered(3, "e1,e2,e3"));
    }

    [Fact]
    public async Task Commands_that_arrive_during_recovery_are_handled_after_it_in_order()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-3");
        await PersistAsync(actor, "e1");
        await _h.StopAsync(actor);
        _h.Journal.StallReplays("r-3", times: 1);

        var again = _h.Spawn("r-3");
        await _h.Journal.WaitForStalledAsync();
        var sender = new TestProbe(_h.System);
        again.Tell(new Cmd("c1", Note("c1 done")), sender.Ref);
        again.Tell(new Cmd("c2", Persist("e2")), sender.Ref);
        again.Tell(new Cmd("c3", Note("c3 done")), sender.Ref);
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Replayed("e1", 1));
        await _h.Log.ExpectMsgAsync(new Recovered(1, "e1"));
        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Noted("c1 done"));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Handled("e2", 2));
        await _h.Log.ExpectMsgAsync(new Received("c3"));
        await _h.Log.ExpectMsgAsync(new Noted("c3 done"));
        await sender.ExpectMsgAsync(new Ack("e2"));
    }

    [Fact]
    public async Task Recovery_None_replays_nothing_but_new_events_continue_the_stored_sequence_numbers()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-4");
        await PersistAsync(actor, "e1", "e2");
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        await PersistAsync(actor, "e3");
        await _h.StopAsync(actor);

        var replays = _h.Journal.CallCount(StoreOperation.Replay);
        var loads = _h.Snapshots!.CallCount(StoreOperation.LoadSnapshot);
        var (again, recovered) = await _h.SpawnRecoveredAsync("r-4", Recovery.None);

        Assert.Equal(new Recovered(3, ""), recovered); // no snapshot offered, no event replayed
        Assert.Equal(replays, _h.Journal.CallCount(StoreOperation.Replay));
        Assert.Equal(loads, _h.Snapshots.CallCount(StoreOperation.LoadSnapshot));
        await PersistAsync(again, "e4");
        Assert.Equal(
            [(1L, "e1"), (2L, "e2"), (3L, "e3"), (4L, "e4")],
            (await _h.StoredAsync("r-4")).Select(r => (r.SequenceNumber, (string)r.Payload)));
    }

    [Fact]
    public async Task Recovery_ToSequence_recovers_the_state_up_to_that_event_and_new_events_continue_after_the_highest()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-5");
        await PersistAsync(actor, "e1", "e2");
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        await PersistAsync(actor, "e3", "e4");
        actor.Tell(new TakeSnapshot());
        await _h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        await PersistAsync(actor, "e5");
        await _h.StopAsync(actor);

        var again = _h.Spawn("r-5", Recovery.ToSequence(3));

        await _h.Log.ExpectMsgAsync(new SnapshotOffered(2, "e1,e2")); // the snapshot at 4 is past the bound
        await _h.Log.ExpectMsgAsync(new Replayed("e3", 3));
        // The state stops at 3; LastSequenceNumber is the highest stored, so new events never collide.
        await _h.Log.ExpectMsgAsync(new Recovered(5, "e1,e2,e3"));
        await PersistAsync(again, "e6", expectedSequenceNumber: 6);
    }

    [Fact]
    public async Task ReplayMax_limits_the_number_of_replayed_events()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-6");
        await PersistAsync(actor, "e1", "e2", "e3");
        await _h.StopAsync(actor);

        _h.Spawn("r-6", new Recovery(SnapshotSelectionCriteria.Latest, ReplayMax: 2));

        await _h.Log.ExpectMsgAsync(new Replayed("e1", 1));
        await _h.Log.ExpectMsgAsync(new Replayed("e2", 2));
        await _h.Log.ExpectMsgAsync(new Recovered(3, "e1,e2"));
    }

    [Fact]
    public async Task The_snapshot_offered_is_the_newest_that_matches_the_selection_criteria()
    {
        var clock = new FakeTimeProvider();
        await using var h = PersistenceHarness.Create(clock: clock);
        var (actor, _) = await h.SpawnRecoveredAsync("r-7");
        await PersistAsync(h, actor, "e1", "e2");
        actor.Tell(new TakeSnapshot());
        var early = (await h.Log.ExpectMsgAsync<SaveSnapshotSuccess>()).Metadata;
        clock.Advance(TimeSpan.FromHours(1));
        await PersistAsync(h, actor, "e3", "e4");
        actor.Tell(new TakeSnapshot());
        var late = (await h.Log.ExpectMsgAsync<SaveSnapshotSuccess>()).Metadata;
        await PersistAsync(h, actor, "e5");
        await h.StopAsync(actor);
        Assert.Equal(early.Timestamp + TimeSpan.FromHours(1), late.Timestamp);

        async Task<object> FirstRecoveryStep(SnapshotSelectionCriteria criteria)
        {
            var recovering = h.Spawn("r-7", new Recovery(criteria));
            var step = await h.Log.ExpectMsgAsync<object>(m => m is SnapshotOffered or Replayed);
            await h.Log.FishForMessageAsync<Recovered>(_ => true);
            await h.StopAsync(recovering);
            return step;
        }

        Assert.Equal(new SnapshotOffered(4, "e1,e2,e3,e4"), await FirstRecoveryStep(SnapshotSelectionCriteria.Latest));
        Assert.Equal(new SnapshotOffered(2, "e1,e2"), await FirstRecoveryStep(SnapshotSelectionCriteria.UpTo(3)));
        Assert.Equal(
            new SnapshotOffered(2, "e1,e2"),
            await FirstRecoveryStep(new SnapshotSelectionCriteria(long.MaxValue, early.Timestamp + TimeSpan.FromMinutes(30))));
        Assert.Equal(
            new SnapshotOffered(4, "e1,e2,e3,e4"),
            await FirstRecoveryStep(new SnapshotSelectionCriteria(long.MaxValue, DateTimeOffset.MaxValue, MinSequenceNumber: 3)));
        Assert.Equal(
            new Replayed("e1", 1),
            await FirstRecoveryStep(new SnapshotSelectionCriteria(long.MaxValue, DateTimeOffset.MaxValue, MinSequenceNumber: 5)));
        Assert.Equal(new Replayed("e1", 1), await FirstRecoveryStep(SnapshotSelectionCriteria.None));
    }

    [Fact]
    public async Task LastSequenceNr_follows_replay_recovery_handlers_and_skips_rejected_events()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-8");
        await PersistAsync(actor, "e1", "e2");
        actor.Tell(new Cmd("c", Persist(new NotRegistered(3))));
        await _h.Log.ExpectMsgAsync(new Received("c"));
        Assert.Equal(3, (await _h.Log.ExpectMsgAsync<PersistRejected>()).SequenceNumber);
        var state = await actor.Ask<StateReply>(new GetState(), TimeSpan.FromSeconds(5));
        Assert.Equal(2, state.LastSequenceNumber); // a rejected event is not applied
        await PersistAsync(actor, "e4", expectedSequenceNumber: 4);
        await _h.StopAsync(actor);

        _h.Spawn("r-8");

        await _h.Log.ExpectMsgAsync(new Replayed("e1", 1));
        await _h.Log.ExpectMsgAsync(new Replayed("e2", 2));
        await _h.Log.ExpectMsgAsync(new Replayed("e4", 4));
        await _h.Log.ExpectMsgAsync(new Recovered(4, "e1,e2,e4"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_unreadable_snapshot_is_skipped_for_a_full_replay_only_when_snapshots_are_optional(bool optional)
    {
        var db = new SharedDatabase();
        // The old deployment stored its snapshots under a manifest that no type of this process claims any more.
        await using (var writer = PersistenceHarness.Create(p => p.Events.Register<RecorderSnapshot>("test.recorder-snapshot.v0"), store: db.Journal, snapshotStore: db.SnapshotStore, name: "writer"))
        {
            var (actor, _) = await writer.SpawnRecoveredAsync("r-9");
            await PersistAsync(writer, actor, "e1", "e2", "e3");
            actor.Tell(new TakeSnapshot());
            await writer.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
            await PersistAsync(writer, actor, "e4");
        }

        // A new deployment whose registry does not know the snapshot's manifest.
        await using var reader = PersistenceHarness.Create(p => p.SnapshotIsOptional = optional, store: db.Journal, snapshotStore: db.SnapshotStore, name: "reader");
        var recovering = reader.Spawn("r-9");

        if (optional)
        {
            foreach (var (e, seq) in new[] { ("e1", 1L), ("e2", 2L), ("e3", 3L), ("e4", 4L) })
            {
                await reader.Log.ExpectMsgAsync(new Replayed(e, seq));
            }

            await reader.Log.ExpectMsgAsync(new Recovered(4, "e1,e2,e3,e4"));
            return;
        }

        var watcher = new TestProbe(reader.System);
        watcher.Watch(recovering);
        var failed = await reader.Log.ExpectMsgAsync<RecoveryFailed>();
        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal(("r-9", 3L, "test.recorder-snapshot.v0"), (cause.PersistenceId, cause.SequenceNumber, cause.Manifest));
        Assert.Contains("Snapshot of 'r-9' at sequence number 3", cause.Message);
        Assert.IsType<SnapshotLoadException>(cause.InnerException);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    [Fact]
    public async Task An_exception_in_ReceiveRecover_fails_recovery_at_that_event_and_stops_the_actor()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-10");
        await PersistAsync(actor, "e1", "boom", "e3");
        await _h.StopAsync(actor);

        var recovering = _h.System.Spawn(Props.Create(() => new ThrowingOnReplay("r-10", _h.Log.Ref)));
        var watcher = new TestProbe(_h.System);
        watcher.Watch(recovering);

        var failed = await _h.Log.ExpectMsgAsync<RecoveryFailed>();
        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal(("r-10", 2L, "string"), (cause.PersistenceId, cause.SequenceNumber, cause.Manifest));
        Assert.Equal("boom", failed.Event);
        Assert.IsType<InvalidOperationException>(cause.InnerException);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    [Fact]
    public async Task IsRecovering_holds_until_RecoveryCompleted_which_may_persist_already()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-11");
        await PersistAsync(actor, "e1");
        await _h.StopAsync(actor);

        _h.System.Spawn(Props.Create(() => new PersistingOnRecovery("r-11", _h.Log.Ref)));

        await _h.Log.ExpectMsgAsync(new Noted("PreStart recovering=True"));
        await _h.Log.ExpectMsgAsync(new Noted("e1 recovering=True last=1"));
        await _h.Log.ExpectMsgAsync(new Noted("completed recovering=False last=1"));
        await _h.Log.ExpectMsgAsync(new Handled("after", 2));
    }

    [Fact]
    public async Task Persist_while_replaying_fails_recovery_and_stops_the_actor()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("r-12");
        await PersistAsync(actor, "persist");
        await _h.StopAsync(actor);

        var recovering = _h.System.Spawn(Props.Create(() => new PersistingOnRecovery("r-12", _h.Log.Ref)));
        var watcher = new TestProbe(_h.System);
        watcher.Watch(recovering);

        await _h.Log.ExpectMsgAsync(new Noted("PreStart recovering=True"));
        await _h.Log.ExpectMsgAsync(new Noted("persist recovering=True last=1"));
        var failed = await _h.Log.ExpectMsgAsync<RecoveryFailed>();
        var cause = Assert.IsType<InvalidOperationException>(Assert.IsType<RecoveryFailedException>(failed.Cause).InnerException);
        Assert.Contains("'r-12' is recovering", cause.Message);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    private Task PersistAsync(IActorRef actor, string e, long expectedSequenceNumber) => PersistAsync(_h, actor, e, expectedSequenceNumber);

    private Task PersistAsync(IActorRef actor, params string[] events) => PersistAsync(_h, actor, events);

    private static async Task PersistAsync(PersistenceHarness h, IActorRef actor, string e, long expectedSequenceNumber)
    {
        actor.Tell(new Cmd(e, Persist(e)));
        await h.Log.ExpectMsgAsync(new Received(e));
        await h.Log.ExpectMsgAsync(new Handled(e, expectedSequenceNumber));
    }

    /// <summary>Persists each event with its own command and waits until its handler ran.</summary>
    private static async Task PersistAsync(PersistenceHarness h, IActorRef actor, params string[] events)
    {
        foreach (var e in events)
        {
            actor.Tell(new Cmd(e, Persist(e)));
            await h.Log.ExpectMsgAsync(new Received(e));
            await h.Log.ExpectMsgAsync<Handled>(m => Equals(m.Event, e));
        }
    }
}

public sealed class ThrowingOnReplay(string persistenceId, IActorRef log) : PersistentActor
{
    public override string PersistenceId => persistenceId;

    protected override void ReceiveCommand(object command)
    {
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is "boom")
        {
            throw new InvalidOperationException("cannot apply boom");
        }
    }

    protected override void OnRecoveryFailure(Exception cause, object? @event) => log.Tell(new RecoveryFailed(cause, @event));
}

/// <summary>Notes <see cref="PersistentActor.IsRecovering"/> as recovery goes; persists when it replays "persist" and when recovery completes.</summary>
public sealed class PersistingOnRecovery(string persistenceId, IActorRef log) : PersistentActor
{
    public override string PersistenceId => persistenceId;

    protected override void PreStart() => log.Tell(new Noted($"PreStart recovering={IsRecovering}"));

    protected override void ReceiveCommand(object command)
    {
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is RecoveryCompleted)
        {
            log.Tell(new Noted($"completed recovering={IsRecovering} last={LastSequenceNumber}"));
            Persist("after", e => log.Tell(new Handled(e, LastSequenceNumber)));
            return;
        }

        log.Tell(new Noted($"{message} recovering={IsRecovering} last={LastSequenceNumber}"));
        if (message is "persist")
        {
            Persist("never", _ => { });
        }
    }

    protected override void OnRecoveryFailure(Exception cause, object? @event) => log.Tell(new RecoveryFailed(cause, @event));
}
