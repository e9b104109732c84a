using System.Collections.Concurrent;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class TerminationTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");
    private readonly ConcurrentQueue<string> _stopped = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    /// <summary>Spawns the named children in PreStart and records its own PostStop.</summary>
    private sealed class Node(ConcurrentQueue<string> stopped, TimeSpan stopDelay, params string[][] tree) : Actor
    {
        protected override void PreStart()
        {
            foreach (var branch in tree)
            {
                Context.Spawn(Props.Create(() => new Node(stopped, stopDelay, [.. branch.Skip(1).Select(n => new[] { n })])), branch[0]);
            }
        }

        protected override void Receive(object message)
        {
            if (message is "ready?")
            {
                Sender.Tell("ready", Self);
            }
        }

        protected override void PostStop()
        {
            if (stopDelay > TimeSpan.Zero)
            {
                Thread.Sleep(stopDelay); // a slow PostStop: termination must still wait for it
            }

            stopped.Enqueue(Self.Path.ToStringWithoutAddress());
        }
    }

    private sealed class Disposable(ConcurrentQueue<string> stopped) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            stopped.Enqueue("extension");
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task TerminateAsync_stops_children_before_parents_and_completes_when_all_have_stopped()
    {
        var system = ActorSystem.Create("tree", o => o.AddExtension(_ => new Disposable(_stopped)));
        // a has children b (with child c) and d; d's PostStop is slow.
        var a = system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero, ["b", "c"], ["d"])), "a");
        var slow = TimeSpan.FromMilliseconds(100);
        var other = system.Spawn(Props.Create(() => new Node(_stopped, slow)), "other");
        await a.Ask<string>("ready?", TimeSpan.FromSeconds(5));
        await other.Ask<string>("ready?", TimeSpan.FromSeconds(5));

        await system.TerminateAsync();

        var order = _stopped.ToList();
        Assert.True(system.WhenTerminated.IsCompletedSuccessfully);
        Assert.Equal(["/user/a", "/user/a/b", "/user/a/b/c", "/user/a/d", "/user/other", "extension"], order.Order(StringComparer.Ordinal));
        Assert.True(order.IndexOf("/user/a/b/c") < order.IndexOf("/user/a/b"), string.Join(", ", order));
        Assert.True(order.IndexOf("/user/a/b") < order.IndexOf("/user/a"), string.Join(", ", order));
        Assert.True(order.IndexOf("/user/a/d") < order.IndexOf("/user/a"), string.Join(", ", order));
        Assert.Equal("extension", order[^1]);
    }

    [Fact]
    public async Task Stopping_an_actor_stops_its_children_first()
    {
        var probe = new TestProbe(_system);
        var a = _system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero, ["b", "c"])), "a");
        await a.Ask<string>("ready?", TimeSpan.FromSeconds(5));
        probe.Watch(a);

        _system.Stop(a);

        await probe.ExpectTerminatedAsync(a);
        Assert.Equal(["/user/a/b/c", "/user/a/b", "/user/a"], _stopped);
    }

    [Fact]
    public async Task Spawn_after_TerminateAsync_throws()
    {
        var system = ActorSystem.Create("gone");

        await system.TerminateAsync();

        var error = Assert.Throws<InvalidOperationException>(() => system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero))));
        Assert.Contains("recall://gone/user", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Spawn_once_termination_was_requested_throws_even_before_it_completes()
    {
        for (var i = 0; i < 50; i++)
        {
            var system = ActorSystem.Create("going");
            var termination = system.TerminateAsync();

            Assert.Throws<InvalidOperationException>(() => system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero))));
            await termination;
        }
    }

    [Fact]
    public async Task TerminateAsync_twice_and_DisposeAsync_are_harmless_and_share_WhenTerminated()
    {
        var system = ActorSystem.Create("twice");
        system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero)), "x");

        var first = system.TerminateAsync();
        var second = system.TerminateAsync();
        await system.DisposeAsync();

        Assert.Same(first, second);
        Assert.Same(first, system.WhenTerminated);
        Assert.True(first.IsCompletedSuccessfully);
        Assert.Equal(["/user/x"], _stopped);
    }

    [Fact]
    public void WhenTerminated_is_pending_while_the_system_runs() =>
        Assert.False(_system.WhenTerminated.IsCompleted);

    private sealed class Meddler(IActorRef stranger) : Actor
    {
        protected override void Receive(object message)
        {
            try
            {
                Context.Stop(stranger);
                Sender.Tell("stopped it", Self);
            }
            catch (ArgumentException error)
            {
                Sender.Tell(error.Message, Self);
            }
        }
    }

    [Fact]
    public async Task An_actor_may_stop_only_itself_and_its_children()
    {
        var stranger = _system.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero)), "stranger");
        var meddler = _system.Spawn(Props.Create(() => new Meddler(stranger)), "meddler");

        var answer = await meddler.Ask<string>("go", TimeSpan.FromSeconds(5));

        Assert.Contains("can stop only itself and its children", answer, StringComparison.Ordinal);
        Assert.Contains("recall://test/user/stranger", answer, StringComparison.Ordinal);
        Assert.Equal("ready", await stranger.Ask<string>("ready?", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Stop_rejects_an_actor_of_another_system()
    {
        await using var other = ActorSystem.Create("other");
        var stranger = other.Spawn(Props.Create(() => new Node(_stopped, TimeSpan.Zero)));

        var error = Assert.Throws<ArgumentException>(() => _system.Stop(stranger));
        Assert.Contains("recall://other/user/", error.Message, StringComparison.Ordinal);
    }
}
