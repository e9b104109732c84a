using Recall.Samples.Wallet.Typed;

namespace Recall.Persistence.Tests;

public sealed class TypedApiTests
{
    private static EventSourcedTestKit<IWalletCommand, IWalletEvent, TypedWalletState> Kit(string id = "alice") => new(() => new TypedWallet(id));

    [Fact]
    public async Task A_command_persists_its_event_applies_it_and_replies_with_the_new_state()
    {
        await using var kit = Kit();

        var result = await kit.RunCommandAsync<WalletReply>(r => new Deposit(10, r));

        Assert.Equal(new Deposited(10), result.Event);
        Assert.Equal(new TypedWalletState(10), result.State);
        Assert.Equal(new Accepted(10), result.Reply);
    }

    [Fact]
    public async Task A_refused_command_stores_nothing_and_replies_why()
    {
        await using var kit = Kit();
        await kit.RunCommandAsync<WalletReply>(r => new Deposit(5, r));

        var result = await kit.RunCommandAsync<WalletReply>(r => new Withdraw(8, r));

        Assert.True(result.HasNoEvents);
        Assert.Equal(new TypedWalletState(5), result.State);
        Assert.Equal(new Refused("only 5 coins"), result.Reply);
    }

    [Fact]
    public async Task The_state_is_recovered_from_events_after_a_restart()
    {
        await using var kit = Kit();
        await kit.RunCommandAsync<WalletReply>(r => new Deposit(10, r));
        await kit.RunCommandAsync<WalletReply>(r => new Withdraw(3, r));

        Assert.Equal(new TypedWalletState(7), await kit.RestartAsync());
    }

    [Fact]
    public async Task The_test_kit_fails_a_state_that_does_not_round_trip_through_serialization()
    {
        await using var kit = new EventSourcedTestKit<string, Noted, NotSerializableState>(() => new Notebook());

        var error = await Assert.ThrowsAsync<TestKitException>(() => kit.RunCommandAsync("hello"));
        Assert.Contains("state", error.Message, StringComparison.Ordinal);
        Assert.Contains("serializ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Effects_stash_and_unstash_commands_and_side_effects_run_after_the_event_in_order()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var door = system.Spawn(Props.Create(() => new Door("front", probe.Ref)));

        door.Tell("knock", null);        // stashed while locked
        door.Tell("unlock", null);       // persists Unlocked, then unstashes
        Assert.Equal("after-unlock:open", await probe.ExpectMsgAsync<string>());
        Assert.Equal("knock-heard:open", await probe.ExpectMsgAsync<string>());
        door.Tell("stop", null);
        probe.Watch(door);
        await probe.ExpectTerminatedAsync(door);
    }

    [Fact]
    public async Task The_side_effects_of_one_effect_run_in_the_order_they_were_added_with_the_new_state()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var door = system.Spawn(Props.Create(() => new Door("count-off", probe.Ref)));
        probe.Watch(door);

        door.Tell("count-off", null); // persists, then: run "one", run "two", stop, run "three"
        Assert.Equal("one:open", await probe.ExpectMsgAsync<string>());
        Assert.Equal("two:open", await probe.ExpectMsgAsync<string>());
        Assert.Equal("three:open", await probe.ExpectMsgAsync<string>());
        await probe.ExpectTerminatedAsync(door);
    }

    [Fact]
    public async Task An_async_command_handler_holds_later_commands_until_its_effect_is_applied()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var counter = system.Spawn(Props.Create(() => new SlowCounter("slow", gate.Task, probe.Ref)));

        counter.Tell("slow-add", null);
        counter.Tell("add", null);
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
        gate.SetResult();

        Assert.Equal(1, await probe.ExpectMsgAsync<int>());
        Assert.Equal(2, await probe.ExpectMsgAsync<int>());
    }

    [Fact]
    public async Task Snapshots_every_N_events_keep_only_the_newest_ones_and_recovery_starts_from_the_last()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var counter = system.Spawn(Props.Create(() => new SnapshottingCounter("snap")));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(i + 1, await counter.Ask<int>(r => new Increment(r), TimeSpan.FromSeconds(5)));
        }

        var store = system.Persistence().SnapshotStore!;
        var latest = await WaitForSnapshotAsync(store, "counter|snap", 9);
        Assert.Equal(new CounterState(9), latest.Snapshot);

        // keep 2 with a snapshot every 3 events: 9 and 6 stay, 3 is deleted
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (await store.LoadAsync("counter|snap", Snapshots.SnapshotSelectionCriteria.UpTo(5), CancellationToken.None) is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Null(await store.LoadAsync("counter|snap", Snapshots.SnapshotSelectionCriteria.UpTo(5), CancellationToken.None));
        Assert.NotNull(await store.LoadAsync("counter|snap", Snapshots.SnapshotSelectionCriteria.UpTo(6), CancellationToken.None));
    }

    [Fact]
    public async Task Tags_of_typed_events_are_stored()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var counter = system.Spawn(Props.Create(() => new SnapshottingCounter("tags")));
        await counter.Ask<int>(r => new Increment(r), TimeSpan.FromSeconds(5));

        var stored = new List<Journal.PersistentRepr>();
        await foreach (var repr in system.Persistence().Journal.ReplayAsync("counter|tags", 1, long.MaxValue, long.MaxValue, CancellationToken.None))
        {
            stored.Add(repr);
        }

        Assert.Equal(["counter", "odd"], Assert.Single(stored).Tags);
    }

    [Fact]
    public async Task An_effect_of_several_events_is_one_write_each_event_is_applied_and_the_side_effects_run_once_after_the_last()
    {
        await using var h = PersistenceHarness.Create();
        var probe = new TestProbe(h.System);
        var tally = h.System.Spawn(Props.Create(() => new Tally("several", probe.Ref)));

        tally.Tell(new[] { 1, 2, 3 }, null);
        Assert.Equal("after:6", await probe.ExpectMsgAsync<string>());
        tally.Tell(new[] { 4 }, null);
        Assert.Equal("after:10", await probe.ExpectMsgAsync<string>());

        var write = Assert.Single(h.Recording.WriteCalls[0]);
        Assert.Equal([1L, 2L, 3L], write.Events.Select(e => e.SequenceNumber));
        Assert.Equal([1, 2, 3, 4], (await h.StoredAsync("tally|several")).Select(e => (int)e.Payload));
    }

    [Fact]
    public async Task A_rejected_effect_of_several_events_applies_none_and_runs_no_side_effects()
    {
        await using var h = PersistenceHarness.Create();
        var probe = new TestProbe(h.System);
        var tally = h.System.Spawn(Props.Create(() => new Tally("rejected", probe.Ref)));
        h.Journal.RejectWrites("tally|rejected", times: 1);

        tally.Tell(new[] { 1, 2 }, null);
        Assert.Equal("rejected:1@1", await probe.ExpectMsgAsync<string>());
        Assert.Equal("rejected:2@2", await probe.ExpectMsgAsync<string>());
        tally.Tell(new[] { 5 }, null);
        Assert.Equal("after:5", await probe.ExpectMsgAsync<string>());
    }

    private static async Task<Snapshots.SelectedSnapshot> WaitForSnapshotAsync(Snapshots.ISnapshotStore store, string id, long sequenceNumber)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var selected = await store.LoadAsync(id, Snapshots.SnapshotSelectionCriteria.Latest, CancellationToken.None);
            if (selected?.Metadata.SequenceNumber == sequenceNumber || DateTime.UtcNow > deadline)
            {
                return selected ?? throw new InvalidOperationException("no snapshot");
            }

            await Task.Delay(20);
        }
    }

    [EventType("test.noted.v1")]
    public sealed record Noted(string Text);

    [EventType("test.not-serializable-state.v1")]
    public sealed record NotSerializableState(Action? Callback);

    private sealed class Notebook() : EventSourcedActor<string, Noted, NotSerializableState>(PersistenceId.Of("notebook", "1"), new NotSerializableState(null))
    {
        protected override Effect<Noted, NotSerializableState> OnCommand(NotSerializableState state, string command) => Effect.Persist(new Noted(command));

        protected override NotSerializableState OnEvent(NotSerializableState state, Noted @event) => new(() => { });
    }

    [EventType("test.door-unlocked.v1")]
    public sealed record Unlocked;

    [EventType("test.door-state.v1")]
    public sealed record DoorState(bool Open);

    private sealed class Door(string id, IActorRef probe) : EventSourcedActor<string, Unlocked, DoorState>(PersistenceId.Of("door", id), new DoorState(false))
    {
        protected override Effect<Unlocked, DoorState> OnCommand(DoorState state, string command) => command switch
        {
            "knock" when !state.Open => Effect.Stash(),
            "knock" => Effect.None().ThenRun(s => probe.Tell($"knock-heard:{(s.Open ? "open" : "closed")}", null)),
            "unlock" => Effect.Persist(new Unlocked()).ThenRun(s => probe.Tell($"after-unlock:{(s.Open ? "open" : "closed")}", null)).ThenUnstashAll(),
            "stop" => Effect.Stop(),
            "count-off" => Effect.Persist(new Unlocked())
                .ThenRun(s => probe.Tell($"one:{(s.Open ? "open" : "closed")}", null))
                .ThenRun(s => probe.Tell($"two:{(s.Open ? "open" : "closed")}", null))
                .ThenStop()
                .ThenRun(s => probe.Tell($"three:{(s.Open ? "open" : "closed")}", null)),
            _ => Effect.Unhandled(),
        };

        protected override DoorState OnEvent(DoorState state, Unlocked @event) => state with { Open = true };
    }

    [EventType("test.slow-added.v1")]
    public sealed record Added;

    private sealed class SlowCounter(string id, Task gate, IActorRef probe) : EventSourcedActor<string, Added, int>(PersistenceId.Of("slow", id), 0)
    {
        protected override async ValueTask<Effect<Added, int>> OnCommandAsync(int state, string command)
        {
            if (command == "slow-add")
            {
                await gate;
            }

            return Effect.Persist(new Added()).ThenRun(s => probe.Tell(s, null));
        }

        protected override int OnEvent(int state, Added @event) => state + 1;
    }

    /// <summary>Persists the numbers of a command as one effect and tells the sum after it.</summary>
    private sealed class Tally(string id, IActorRef probe) : EventSourcedActor<int[], int, int>(PersistenceId.Of("tally", id), 0)
    {
        protected override Effect<int, int> OnCommand(int state, int[] command) =>
            Effect.Persist(command).ThenRun(s => probe.Tell($"after:{s}", null));

        protected override int OnEvent(int state, int @event) => state + @event;

        protected override void OnPersistRejected(Exception cause, int @event, long sequenceNumber) => probe.Tell($"rejected:{@event}@{sequenceNumber}", null);
    }

    public sealed record Increment(IReplyTo<int> ReplyTo);

    [EventType("test.incremented.v1")]
    public sealed record Incremented(int To);

    [EventType("test.counter-state.v1")]
    public sealed record CounterState(int Count);

    private sealed class SnapshottingCounter(string id)
        : EventSourcedActorWithEnforcedReplies<Increment, Incremented, CounterState>(PersistenceId.Of("counter", id), new CounterState(0))
    {
        protected override SnapshotRetention Snapshots => SnapshotRetention.Every(3, keep: 2);

        protected override ReplyEffect<Incremented, CounterState> OnCommand(CounterState state, Increment command) =>
            Effect.Persist(new Incremented(state.Count + 1)).ThenReply(command.ReplyTo, s => s.Count);

        protected override CounterState OnEvent(CounterState state, Incremented @event) => new(@event.To);

        protected override IReadOnlyList<string> Tags(Incremented @event) => @event.To % 2 == 1 ? ["counter", "odd"] : ["counter"];
    }
}
