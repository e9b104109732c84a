using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class StashAndBecomeTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    /// <summary>
    /// Closed: stashes everything but "open" (and "count", "fail"). Open: reports every message.
    /// </summary>
    private sealed class Door(IActorRef probe) : HoldableActor
    {
        protected override void Receive(object message)
        {
            if (TryHold(message))
            {
                return;
            }

            switch (message)
            {
                case "open":
                    Stash.UnstashAll();
                    Context.Become(Open);
                    break;
                case "count":
                    Sender.Tell((Stash.Count, Stash.Capacity), Self);
                    break;
                case "fail":
                    throw new InvalidOperationException("door broke");
                default:
                    Stash.Stash();
                    break;
            }
        }

        private void Open(object message) => probe.Tell(message, Sender);
    }

    [Fact]
    public async Task UnstashAll_puts_messages_back_in_original_order_before_newer_mailbox_messages()
    {
        var probe = new TestProbe(_system);
        var door = _system.Spawn(Props.Create(() => new Door(probe.Ref)));
        var gate = new Gate();
        door.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");
        foreach (var message in new[] { "s1", "s2", "s3", "open", "m1", "m2" })
        {
            door.Tell(message, null); // all queued before the door looks at them
        }

        gate.Open();

        foreach (var expected in new[] { "s1", "s2", "s3", "m1", "m2" })
        {
            await probe.ExpectMsgAsync(expected);
        }
    }

    [Fact]
    public async Task Unstashed_messages_keep_their_original_sender()
    {
        var probe = new TestProbe(_system);
        var sender = new TestProbe(_system);
        var door = _system.Spawn(Props.Create(() => new Door(probe.Ref)));

        sender.Send(door, "stashed");
        door.Tell("open", null);

        await probe.ExpectMsgAsync("stashed");
        Assert.Same(sender.Ref, probe.LastSender);
    }

    [Fact]
    public async Task The_stash_reports_its_count_and_capacity()
    {
        var door = _system.Spawn(Props.Create(() => new Door(_system.DeadLetters)).WithStashCapacity(5));

        door.Tell("a", null);
        door.Tell("b", null);

        Assert.Equal((2, 5), await door.Ask<(int, int)>("count", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task The_stash_capacity_defaults_to_the_system_setting()
    {
        await using var system = ActorSystem.Create("small", o => o.DefaultStashCapacity = 7);
        var door = system.Spawn(Props.Create(() => new Door(system.DeadLetters)));

        Assert.Equal((0, 7), await door.Ask<(int, int)>("count", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Stashing_beyond_capacity_throws_StashOverflowException_naming_the_actor_and_capacity()
    {
        var failures = new TestProbe(_system);
        var probe = new TestProbe(_system);
        var parent = _system.Spawn(Props.Create(() => new Parent(Strategies.Reporting(failures.Ref, Directive.Resume))));
        var door = await parent.SpawnChildAsync(Props.Create(() => new Door(probe.Ref)).WithStashCapacity(2), "small-door");

        door.Tell("1", null);
        door.Tell("2", null);
        door.Tell("3", null); // the 3rd Stash() throws and fails the actor

        var error = await failures.ExpectMsgAsync<StashOverflowException>();
        Assert.Equal(door.Path, error.Actor);
        Assert.Equal(2, error.Capacity);
        Assert.Contains("recall://test/user/", error.Message, StringComparison.Ordinal);
        Assert.Contains("small-door", error.Message, StringComparison.Ordinal);
        Assert.Contains("2", error.Message, StringComparison.Ordinal);

        // Resumed: the two stashed messages are intact, the overflowing one was dropped.
        door.Tell("open", null);
        await probe.ExpectMsgAsync("1");
        await probe.ExpectMsgAsync("2");
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public void WithStashCapacity_rejects_a_capacity_below_one() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Props.Create(() => new Door(_system.DeadLetters)).WithStashCapacity(0));

    [Fact]
    public async Task Stashed_messages_survive_a_restart()
    {
        var probe = new TestProbe(_system);
        var door = _system.Spawn(Props.Create(() => new Door(probe.Ref)));

        door.Tell("s1", null);
        door.Tell("s2", null);
        door.Tell("fail", null); // default strategy: restart; the stash goes back to the mailbox
        door.Tell("open", null);

        await probe.ExpectMsgAsync("s1");
        await probe.ExpectMsgAsync("s2");
    }

    [Fact]
    public async Task Stopping_sends_the_stash_to_dead_letters()
    {
        var probe = new TestProbe(_system);
        var door = _system.Spawn(Props.Create(() => new Door(probe.Ref)));
        probe.Watch(door);
        door.Tell("s1", null);
        door.Tell("s2", null);
        Assert.Equal((2, 100_000), await door.Ask<(int, int)>("count", TimeSpan.FromSeconds(5)));
        var before = _system.DeadLetterCount;

        _system.Stop(door);

        await probe.ExpectTerminatedAsync(door);
        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 2, "both stashed messages are dead letters");
    }

    /// <summary>Answers with the name of its current behaviour; "push:x"/"swap:x" change it, "pop" unbecomes.</summary>
    private sealed class Moody : Actor
    {
        protected override void Receive(object message) => Handle("base", message);

        private void Handle(string mood, object message)
        {
            switch (message)
            {
                case string s when s.StartsWith("push:", StringComparison.Ordinal):
                    Context.Become(m => Handle(s[5..], m), discardOld: false);
                    break;
                case string s when s.StartsWith("swap:", StringComparison.Ordinal):
                    Context.Become(m => Handle(s[5..], m));
                    break;
                case "pop":
                    Context.Unbecome();
                    break;
                case "mood":
                    Sender.Tell(mood, Self);
                    break;
                case "fail":
                    throw new InvalidOperationException("moody");
            }
        }
    }

    private static Task<string> MoodAsync(IActorRef moody) => moody.Ask<string>("mood", TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Become_without_discarding_stacks_behaviours_and_Unbecome_pops_them()
    {
        var moody = _system.Spawn(Props.Create(() => new Moody()));

        moody.Tell("push:happy", null);
        Assert.Equal("happy", await MoodAsync(moody));
        moody.Tell("push:angry", null);
        Assert.Equal("angry", await MoodAsync(moody));
        moody.Tell("pop", null);
        Assert.Equal("happy", await MoodAsync(moody));
        moody.Tell("pop", null);
        Assert.Equal("base", await MoodAsync(moody));
        moody.Tell("pop", null); // nothing left to pop: stays on Receive
        Assert.Equal("base", await MoodAsync(moody));
    }

    [Fact]
    public async Task Become_with_discardOld_replaces_the_current_behaviour()
    {
        var moody = _system.Spawn(Props.Create(() => new Moody()));

        moody.Tell("swap:happy", null);
        moody.Tell("swap:angry", null);
        Assert.Equal("angry", await MoodAsync(moody));
        moody.Tell("pop", null); // "happy" was discarded: back to Receive
        Assert.Equal("base", await MoodAsync(moody));

        moody.Tell("push:calm", null);
        moody.Tell("swap:sleepy", null); // replaces "calm" only
        moody.Tell("pop", null);
        Assert.Equal("base", await MoodAsync(moody));
    }

    [Fact]
    public async Task A_restart_returns_to_Receive()
    {
        var moody = _system.Spawn(Props.Create(() => new Moody()));
        moody.Tell("push:happy", null);
        Assert.Equal("happy", await MoodAsync(moody));

        moody.Tell("fail", null);

        Assert.Equal("base", await MoodAsync(moody));
    }
}
