using System.Diagnostics;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>PersistenceExtension.DrainAsync, the first step of a graceful shutdown.</summary>
public sealed class DrainTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Drain_waits_until_a_write_in_flight_is_stored_and_its_handler_ran()
    {
        var handled = new TaskCompletionSource();
        // The stall is in place before the command: set after it, a fast write could pass before it.
        _h.Journal.StallWrites("d-1", times: 1);
        _h.System.Spawn(Props.Create(() => new Flagging("d-1", handled)), "flagging").Tell("go", null);
        await WaitUntilAsync(() => _h.Journal.StalledCount == 1);

        var drain = _h.Persistence.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.False(drain.IsCompleted);

        // The handler cannot run before the write is released: a drain that completes only after it
        // did wait for the release, however long that took.
        _h.Journal.ReleaseStalled();
        Assert.True(await drain);
        Assert.True(handled.Task.IsCompleted, "the handler had run when the drain completed");
        Assert.Single(await _h.StoredAsync("d-1"));
    }

    [Fact]
    public async Task Drain_gives_up_after_its_timeout_when_a_write_stays_stalled()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("d-2");
        _h.Journal.StallWrites("d-2");
        actor.Tell(new Cmd("c1", Persist("a")), null);
        await WaitUntilAsync(() => _h.Journal.StalledCount == 1);

        var watch = Stopwatch.StartNew();
        Assert.False(await _h.Persistence.DrainAsync(TimeSpan.FromMilliseconds(200)));
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(190), TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task While_draining_persistent_actors_take_no_new_commands()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("d-3");
        Assert.True(await _h.Persistence.DrainAsync(TimeSpan.FromSeconds(5)));
        Assert.True(_h.Persistence.IsDraining);

        actor.Tell(new Cmd("late", Persist("a")), null);

        await WaitUntilAsync(() => _h.System.DeadLetterCount == 1);
        await _h.Log.ExpectNoMsgAsync();
        Assert.Empty(await _h.StoredAsync("d-3"));
    }

    [Fact]
    public async Task A_handler_that_persists_again_is_waited_for_too()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("d-4");
        _h.Journal.StallWrites("d-4", times: 1);
        actor.Tell(new Cmd("c1", PersistAsync("a"), PersistAsync("b")), null);
        await WaitUntilAsync(() => _h.Journal.StalledCount == 1);

        var drain = _h.Persistence.DrainAsync(TimeSpan.FromSeconds(30));
        _h.Journal.ReleaseStalled();

        Assert.True(await drain);
        Assert.Equal(2, (await _h.StoredAsync("d-4")).Count);
    }

    [Fact]
    public async Task A_typed_actor_deciding_asynchronously_is_waited_for_since_its_effect_may_persist()
    {
        var gate = new TaskCompletionSource();
        var probe = new TestProbe(_h.System);
        var actor = _h.System.Spawn(Props.Create(() => new SlowDecider("d-5", gate.Task, probe.Ref)));
        actor.Tell("warm-up", null);
        await probe.ExpectMsgAsync(1);
        actor.Tell("slow", null);
        await probe.ExpectMsgAsync("deciding"); // the command is taken and its decision pending

        var drain = _h.Persistence.DrainAsync(TimeSpan.FromSeconds(30));
        Assert.False(drain.IsCompleted);

        // The event can only be stored after the gate opens: a drain that completes with it stored
        // waited for the decision, however long that took.
        gate.SetResult();
        Assert.True(await drain);
        Assert.Equal(2, (await _h.StoredAsync("slow-decider|d-5")).Count);
    }


    [EventType("test.decided.v1")]
    public sealed record Decided;

    /// <summary>Decides "slow" commands only once the gate opens; every command persists one event.</summary>
    private sealed class SlowDecider(string id, Task gate, IActorRef probe) : EventSourcedActor<string, Decided, int>(PersistenceId.Of("slow-decider", id), 0)
    {
        protected override async ValueTask<Effect<Decided, int>> OnCommandAsync(int state, string command)
        {
            if (command == "slow")
            {
                probe.Tell("deciding", null);
                await gate;
            }

            return Effect.Persist(new Decided()).ThenRun(s => probe.Tell(s, null));
        }

        protected override int OnEvent(int state, Decided @event) => state + 1;
    }

    /// <summary>Persists one event and completes <paramref name="handled"/> in its handler.</summary>
    private sealed class Flagging(string persistenceId, TaskCompletionSource handled) : PersistentActor
    {
        public override string PersistenceId => persistenceId;

        protected override void ReceiveCommand(object command) => Persist((string)command, _ => handled.TrySetResult());

        protected override void ReceiveRecover(object message)
        {
        }
    }
}
