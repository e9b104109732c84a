using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Semantics 6: persist failure, persist rejection, recovery failure.</summary>
public sealed class FailureTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_failed_write_calls_OnPersistFailure_skips_the_handler_and_stops_the_actor()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-1");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        var sender = new TestProbe(_h.System);
        var fault = _h.Journal.FailWrites("f-1", times: 1);

        actor.Tell(new Cmd("c1", Persist("e1")), sender.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        var failed = await _h.Log.ExpectMsgAsync<PersistFailed>();
        Assert.IsType<InjectedFaultException>(failed.Cause);
        Assert.Equal(("e1", 1L), (failed.Event, failed.SequenceNumber));
        await watcher.ExpectTerminatedAsync(actor);
        await sender.ExpectNoMsgAsync();
        Assert.Equal(1, fault.Hits);
        Assert.Empty(await _h.StoredAsync("f-1"));
    }

    [Fact]
    public async Task Under_a_BackoffSupervisor_an_actor_stopped_by_a_failed_write_comes_back_with_its_state_recovered()
    {
        var supervisor = _h.System.Spawn(BackoffSupervisor.Props(new BackoffOptions(Recorder.Props("f-2", _h.Log.Ref), "recorder")
        {
            MinBackoff = TimeSpan.FromMilliseconds(20),
            MaxBackoff = TimeSpan.FromMilliseconds(100),
            RandomFactor = 0,
            Trigger = BackoffTrigger.OnStop,
        }));
        await _h.Log.ExpectMsgAsync(new Recovered(0, ""));
        var sender = new TestProbe(_h.System);
        supervisor.Tell(new Cmd("c1", Persist("e1"), Persist("e2")), sender.Ref);
        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Handled("e1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("e2", 2));

        _h.Journal.FailWrites("f-2", times: 1);
        supervisor.Tell(new Cmd("c2", Persist("e3")), sender.Ref);
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync<PersistFailed>(f => Equals(f.Event, "e3"));

        // The supervisor starts it again; it recovers what was stored, not the failed event.
        await _h.Log.ExpectMsgAsync(new Replayed("e1", 1));
        await _h.Log.ExpectMsgAsync(new Replayed("e2", 2));
        await _h.Log.ExpectMsgAsync(new Recovered(2, "e1,e2"));
        supervisor.Tell(new Cmd("c3", Persist("e3")), sender.Ref);
        await _h.Log.ExpectMsgAsync(new Received("c3"));
        await _h.Log.ExpectMsgAsync(new Handled("e3", 3));
        await sender.ExpectMsgAsync(new Ack("e1"));
        await sender.ExpectMsgAsync(new Ack("e2"));
        await sender.ExpectMsgAsync(new Ack("e3"));
    }

    [Fact]
    public async Task A_rejected_event_calls_OnPersistRejected_skips_the_handler_and_the_actor_keeps_handling_commands()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-3");
        var sender = new TestProbe(_h.System);

        actor.Tell(new Cmd("c1", Persist(new NotRegistered(7))), sender.Ref);
        actor.Tell(new Cmd("c2", Persist("ok")), sender.Ref); // stashed until the rejection is known

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        var rejected = await _h.Log.ExpectMsgAsync<PersistRejected>();
        Assert.IsType<UnregisteredEventTypeException>(rejected.Cause);
        Assert.Equal((new NotRegistered(7), 1L), (rejected.Event, rejected.SequenceNumber));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Handled("ok", 2));
        await sender.ExpectMsgAsync(new Ack("ok")); // the rejected event's handler never ran
        Assert.Equal([("ok", 2L)], (await _h.StoredAsync("f-3")).Select(r => (r.Payload, r.SequenceNumber)));
    }

    [Fact]
    public async Task A_write_the_store_rejects_among_other_writes_of_the_batch_leaves_the_others_stored()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-4");
        _h.Journal.RejectWrites("f-4", times: 1);

        actor.Tell(new Cmd("c1", Persist("e1"), Persist("e2")));

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        var rejected = await _h.Log.ExpectMsgAsync<PersistRejected>();
        Assert.Equal(("e1", 1L), (rejected.Event, rejected.SequenceNumber));
        await _h.Log.ExpectMsgAsync(new Handled("e2", 2));
        Assert.Equal(["e2"], (await _h.StoredAsync("f-4")).Select(r => r.Payload));
    }

    [Fact]
    public async Task An_unknown_manifest_fails_recovery_naming_persistence_id_sequence_number_and_manifest_and_stops_the_actor()
    {
        var db = new SharedDatabase();
        await using (var writer = PersistenceHarness.Create(p => p.Events.Register<Secret>("test.secret.v1"), store: db.Journal, name: "writer"))
        {
            var (actor, _) = await writer.SpawnRecoveredAsync("f-5");
            actor.Tell(new Cmd("c1", Persist("e1"), Persist(new Secret(42))));
            await writer.Log.ExpectMsgAsync(new Received("c1"));
            await writer.Log.ExpectMsgAsync(new Handled("e1", 1));
            await writer.Log.ExpectMsgAsync(new Handled(new Secret(42), 2));
        }

        await using var reader = PersistenceHarness.Create(store: db.Journal, name: "reader"); // its registry lacks Secret
        var recovering = reader.Spawn("f-5");
        var watcher = new TestProbe(reader.System);
        watcher.Watch(recovering);

        // Events read before the failure may or may not have been applied (the replay filter holds a window of them).
        var failed = await reader.Log.FishForMessageAsync<RecoveryFailed>(_ => true);
        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal(("f-5", 2L, "test.secret.v1"), (cause.PersistenceId, cause.SequenceNumber, cause.Manifest));
        Assert.Contains("'f-5'", cause.Message);
        Assert.Contains("sequence number 2", cause.Message);
        Assert.Contains("'test.secret.v1'", cause.Message);
        Assert.IsType<UnknownManifestException>(Assert.IsType<EventReadException>(cause.InnerException).InnerException);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    [Fact]
    public async Task A_replay_that_fails_midway_fails_recovery_at_the_next_sequence_number_and_stops_the_actor()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-6");
        actor.Tell(new Cmd("c1", PersistAll("e1", "e2", "e3")));
        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 3);
        await _h.StopAsync(actor);
        _h.Journal.FailReplays("f-6", times: 1, afterEvents: 2);

        var recovering = _h.Spawn("f-6");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(recovering);

        var failed = await _h.Log.FishForMessageAsync<RecoveryFailed>(_ => true);
        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal(("f-6", 3L), (cause.PersistenceId, cause.SequenceNumber));
        Assert.IsType<InjectedFaultException>(cause.InnerException);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    [Fact]
    public async Task Commands_stashed_behind_a_failed_write_are_not_handled_and_become_dead_letters()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-7");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        _h.Journal.StallWrites("f-7", times: 1);
        _h.Journal.FailWrites("f-7", times: 1);

        actor.Tell(new Cmd("c1", Persist("e1")));
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", Note("c2 done")));
        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        var deadLetters = _h.System.DeadLetterCount;

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync<PersistFailed>();
        await watcher.ExpectTerminatedAsync(actor);
        await _h.Log.ExpectNoMsgAsync();
        Assert.True(_h.System.DeadLetterCount > deadLetters);
    }

    [Fact]
    public async Task An_ask_waiting_on_a_write_that_fails_fails_at_once_with_the_store_error()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-8");
        var stored = new IOException("disk gone");
        _h.Journal.FailWrites("f-8", times: 1, exception: stored);

        // The ask waits 60 s; only the failed write can end it sooner.
        var ask = actor.Ask<Ack>(new Cmd("c1", Persist("e1")), TimeSpan.FromSeconds(60));

        var error = await Assert.ThrowsAsync<AskFailedException>(() => ask.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Same(stored, error.InnerException);
        Assert.Equal("its write failed (IOException: disk gone) and the actor stopped", error.Reason);
        Assert.Equal(typeof(Cmd), error.MessageType);
        Assert.Equal(actor.Path, error.Recipient);
    }

    [Fact]
    public async Task An_ask_waiting_on_a_write_fails_at_once_when_the_actor_is_stopped_before_the_store_answers()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("f-9");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        _h.Journal.StallWrites("f-9", times: 1);
        var ask = actor.Ask<Ack>(new Cmd("c1", Persist("e1")), TimeSpan.FromSeconds(60));
        await _h.Journal.WaitForStalledAsync();

        _h.System.Stop(actor);
        await watcher.ExpectTerminatedAsync(actor);

        var error = await Assert.ThrowsAsync<AskFailedException>(() => ask.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("the actor stopped before its write was answered, so the event may or may not be stored", error.Reason);
        _h.Journal.ReleaseStalled();
    }
}

public sealed record Secret(int Value);
