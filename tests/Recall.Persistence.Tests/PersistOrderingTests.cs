using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Semantics 1–4: Persist, PersistAll, PersistAsync, PersistAllAsync, Defer, DeferAsync and their ordering.</summary>
public sealed class PersistOrderingTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();
    private TestProbe _alice = null!;
    private TestProbe _bob = null!;

    public Task InitializeAsync()
    {
        _alice = new TestProbe(_h.System, "alice");
        _bob = new TestProbe(_h.System, "bob");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Several_persists_in_one_command_run_their_handlers_in_call_order_and_commands_wait_for_the_last_one()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-1");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", Persist("a1"), Persist("a2"), Note("c1 done")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", Persist("b1")), _bob.Ref);
        actor.Tell(new Cmd("c3", Note("c3 done")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Noted("c1 done"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // c2 and c3 wait: c1's handlers are pending

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("a2", 2));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Handled("b1", 3));
        await _h.Log.ExpectMsgAsync(new Received("c3"));
        await _h.Log.ExpectMsgAsync(new Noted("c3 done"));

        // Sender inside a handler is the sender of the command that persisted.
        await _alice.ExpectMsgAsync(new Ack("a1"));
        await _alice.ExpectMsgAsync(new Ack("a2"));
        await _bob.ExpectMsgAsync(new Ack("b1"));
        await _alice.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task A_handler_runs_only_after_its_write_is_durable()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-2");
        _h.Recording.Stored += repr => _h.Log.Ref.Tell(new StoredInJournal(repr.SequenceNumber), null);
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", Persist("a1")), _alice.Ref);
        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Journal.WaitForStalledAsync();
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        Assert.Empty(await _h.StoredAsync("p-2"));

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new StoredInJournal(1));
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        Assert.Equal(["a1"], (await _h.StoredAsync("p-2")).Select(r => r.Payload));
    }

    [Fact]
    public async Task PersistAsync_keeps_commands_flowing_while_writes_are_in_flight_and_runs_handlers_in_order()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-3");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", PersistAsync("a1"), PersistAsync("a2")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", PersistAsync("b1"), Note("c2 done")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Noted("c2 done"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // no handler before the write is stored

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("a2", 2));
        await _h.Log.ExpectMsgAsync(new Handled("b1", 3));
        await _alice.ExpectMsgAsync(new Ack("a1"));
        await _alice.ExpectMsgAsync(new Ack("a2"));
        await _bob.ExpectMsgAsync(new Ack("b1"));
    }

    [Fact]
    public async Task PersistAsync_and_DeferAsync_mixed_run_in_call_order_across_commands_with_each_commands_sender()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-4");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", PersistAsync("a1"), DeferAsync("d1"), PersistAsync("a2"), DeferAsync("d2")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", DeferAsync("d3"), PersistAsync("b1"), DeferAsync("d4")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // deferred handlers wait for the persists before them

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("d1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("a2", 2));
        await _h.Log.ExpectMsgAsync(new Handled("d2", 2));
        await _h.Log.ExpectMsgAsync(new Handled("d3", 2));
        await _h.Log.ExpectMsgAsync(new Handled("b1", 3));
        await _h.Log.ExpectMsgAsync(new Handled("d4", 3));

        foreach (var e in new[] { "a1", "d1", "a2", "d2" })
        {
            await _alice.ExpectMsgAsync(new Ack(e));
        }

        foreach (var e in new[] { "d3", "b1", "d4" })
        {
            await _bob.ExpectMsgAsync(new Ack(e));
        }

        Assert.Equal(["a1", "a2", "b1"], (await _h.StoredAsync("p-4")).Select(r => r.Payload)); // deferred events are not stored
    }

    [Fact]
    public async Task DeferAsync_with_nothing_pending_runs_at_once()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-5");

        actor.Tell(new Cmd("c1", Note("before"), DeferAsync("d1"), Note("after")), _alice.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Noted("before"));
        await _h.Log.ExpectMsgAsync(new Handled("d1", 0));
        await _h.Log.ExpectMsgAsync(new Noted("after"));
        await _alice.ExpectMsgAsync(new Ack("d1"));
        Assert.Empty(_h.Recording.WriteCalls);
    }

    [Fact]
    public async Task Defer_stashes_new_commands_until_its_handler_has_run()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-6");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", PersistAsync("a1"), Defer("d1")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", Note("c2 done")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // c2 waits for the Defer handler

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("d1", 1));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Noted("c2 done"));
        await _alice.ExpectMsgAsync(new Ack("a1"));
        await _alice.ExpectMsgAsync(new Ack("d1"));
    }

    [Fact]
    public async Task PersistAll_is_one_atomic_write_whose_handler_runs_once_per_event_in_order()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-7");

        actor.Tell(new Cmd("c1", PersistAll("x", "y", "z"), Note("c1 done")), _alice.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Noted("c1 done"));
        await _h.Log.ExpectMsgAsync(new Handled("x", 1));
        await _h.Log.ExpectMsgAsync(new Handled("y", 2));
        await _h.Log.ExpectMsgAsync(new Handled("z", 3));
        await _h.Log.ExpectNoMsgAsync();
        await _alice.ExpectMsgAsync(new Ack("x"));
        await _alice.ExpectMsgAsync(new Ack("y"));
        await _alice.ExpectMsgAsync(new Ack("z"));

        var call = Assert.Single(_h.Recording.WriteCalls);
        var write = Assert.Single(call);
        Assert.Equal([1L, 2L, 3L], write.Events.Select(e => e.SequenceNumber));
    }

    [Fact]
    public async Task PersistAll_stores_all_or_none_a_rejected_event_rejects_the_whole_write()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-8");

        actor.Tell(new Cmd("c1", PersistAll("x", new NotRegistered(1), "z")), _alice.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        foreach (var (e, seq) in new object[] { "x", new NotRegistered(1), "z" }.Select((e, i) => (e, i + 1L)))
        {
            var rejected = await _h.Log.ExpectMsgAsync<PersistRejected>();
            Assert.IsType<UnregisteredEventTypeException>(rejected.Cause);
            Assert.Equal(e, rejected.Event);
            Assert.Equal(seq, rejected.SequenceNumber);
        }

        Assert.Empty(await _h.StoredAsync("p-8"));

        // The actor goes on; the rejected sequence numbers stay unused.
        actor.Tell(new Cmd("c2", Persist("w")), _alice.Ref);
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Handled("w", 4));
        await _alice.ExpectMsgAsync(new Ack("w"));
        Assert.Equal([("w", 4L)], (await _h.StoredAsync("p-8")).Select(r => (r.Payload, r.SequenceNumber)));
    }

    [Fact]
    public async Task PersistAllAsync_keeps_commands_flowing_and_runs_handlers_per_event_in_order()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-9");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", PersistAllAsync("x", "y")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", PersistAllAsync("z")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("x", 1));
        await _h.Log.ExpectMsgAsync(new Handled("y", 2));
        await _h.Log.ExpectMsgAsync(new Handled("z", 3));
        await _alice.ExpectMsgAsync(new Ack("x"));
        await _alice.ExpectMsgAsync(new Ack("y"));
        await _bob.ExpectMsgAsync(new Ack("z"));
        Assert.Contains(_h.Recording.WriteCalls, call => call.Count == 1 && call[0].Events.Count == 2);
    }

    [Fact]
    public async Task Persist_after_PersistAsync_in_one_command_stashes_and_keeps_the_order()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("p-10");
        _h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", PersistAsync("a1"), Persist("a2"), DeferAsync("d1")), _alice.Ref);
        await _h.Journal.WaitForStalledAsync();
        actor.Tell(new Cmd("c2", Persist("b1")), _bob.Ref);

        await _h.Log.ExpectMsgAsync(new Received("c1"));
        await _h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await _h.Log.ExpectMsgAsync(new Handled("a2", 2));
        await _h.Log.ExpectMsgAsync(new Handled("d1", 2));
        await _h.Log.ExpectMsgAsync(new Received("c2"));
        await _h.Log.ExpectMsgAsync(new Handled("b1", 3));
    }
}

public sealed record StoredInJournal(long SequenceNumber);

/// <summary>A type with neither a registration nor an [EventType]: the store cannot serialize it.</summary>
public sealed record NotRegistered(int Value);
