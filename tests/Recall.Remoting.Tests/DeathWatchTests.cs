using Recall.Actors;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

public sealed class DeathWatchTests
{
    [Fact]
    public async Task A_watcher_learns_when_a_remote_actor_stops()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);

        probe.Watch(echo);
        echo.Tell(new Ping(1), probe.Ref);
        await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout); // the watch went out before this ping
        echo.Tell(new StopYourself(), null);

        var terminated = await probe.ExpectTerminatedAsync(echo, Nodes.Timeout);
        Assert.Equal(echo.Path, terminated.Actor.Path);
    }

    [Fact]
    public async Task When_a_watching_node_is_gone_its_watches_of_local_actors_are_dropped()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);
        probe.Watch(echo);
        echo.Tell(new Ping(1), probe.Ref);
        await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout); // the watch arrived before this ping
        var fromB = a.Remoting().Transport.Associations.Single(x => x.Remote == b.Address);
        Assert.Equal(1, fromB.WatchedHereCount);

        a.Remoting().DeclareGone(b.Address, b.Remoting().Incarnation, "the test says so");

        Assert.Equal(0, fromB.WatchedHereCount); // and the echo actor got an Unwatch: it keeps no ref to the gone node
    }

    [Fact]
    public async Task Watching_a_remote_path_where_nothing_lives_terminates_at_once()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        // A ref read from a message (no lookup first) to a path with no actor: watching it ends at once.
        var probe = new TestProbe(b);
        var remote = ResolveWithoutLookup(b, $"{a.Address}/user/nobody");
        probe.Watch(remote);
        await probe.ExpectTerminatedAsync(remote, Nodes.Timeout);
    }

    [Fact]
    public async Task Watchers_learn_when_a_node_stops_gracefully()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b", r => r.NodeGoneAfter = TimeSpan.FromMinutes(5)); // the goodbye must be what tells, not the timeout
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);
        probe.Watch(echo);
        echo.Tell(new Ping(1), probe.Ref);
        await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout);

        await a.TerminateAsync();

        await probe.ExpectTerminatedAsync(echo, Nodes.Timeout);
    }

    [Fact]
    public async Task Watchers_learn_when_a_node_process_is_killed_and_its_incarnation_is_never_used_again()
    {
        await using var nodes = new Nodes();
        var b = nodes.Start("b", r => r.NodeGoneAfter = TimeSpan.FromSeconds(2));
        var port = NodeProcess.FreePort();
        await using var first = await NodeProcess.StartAsync("a", port);
        var echo = await b.ResolveAsync($"{first.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);
        probe.Watch(echo);
        Assert.Equal(new Ping(1), await echo.Ask<Ping>(new Ping(1), Nodes.Timeout));

        var killed = DateTime.UtcNow;
        await first.KillAsync();
        await probe.ExpectTerminatedAsync(echo, Nodes.Timeout * 2);
        var detected = DateTime.UtcNow - killed;
        Assert.True(detected < TimeSpan.FromSeconds(2) + Nodes.Timeout, $"Terminated came {detected.TotalSeconds:0.0} s after the kill");

        // The node restarts at the same address: a new incarnation. The old ref stays dead; a new lookup works.
        await using var second = await NodeProcess.StartAsync("a", port);
        Assert.NotEqual(first.Incarnation, second.Incarnation);
        var deadLettersBefore = b.DeadLetterCount;
        echo.Tell(new Ping(2), probe.Ref);
        await Eventually.TrueAsync(() => b.DeadLetterCount > deadLettersBefore, "the message to the old incarnation is a dead letter");

        var again = await b.ResolveAsync($"{second.Address}/user/echo", Nodes.Timeout);
        Assert.Equal(new Ping(3), await again.Ask<Ping>(new Ping(3), Nodes.Timeout));
        Assert.Contains(b.Remoting().Peers, p => p.Address == second.Address && p.Incarnation == second.Incarnation);
    }

    [Fact]
    public async Task A_peer_that_restarts_while_messages_flow_is_reconnected_to()
    {
        await using var nodes = new Nodes();
        var b = nodes.Start("b", r => r.NodeGoneAfter = TimeSpan.FromMinutes(1));
        var port = NodeProcess.FreePort();
        var first = await NodeProcess.StartAsync("a", port);
        var echo = await b.ResolveAsync($"{first.Address}/user/echo", Nodes.Timeout);
        Assert.Equal(new Ping(1), await echo.Ask<Ping>(new Ping(1), Nodes.Timeout));
        await first.KillAsync();
        await first.DisposeAsync();

        await using var second = await NodeProcess.StartAsync("a", port);

        // Resolving again reaches the new incarnation once the association notices the restart.
        IActorRef? again = null;
        await Eventually.TrueAsync(() =>
        {
            try
            {
                again = b.ResolveAsync($"{second.Address}/user/echo", TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
                return again.Ask<Ping>(new Ping(2), TimeSpan.FromSeconds(2)).GetAwaiter().GetResult() == new Ping(2);
            }
            catch (Exception exception) when (exception is ActorNotFoundException or AskTimeoutException or AskFailedException)
            {
                return false;
            }
        }, "the restarted node answers", Nodes.Timeout * 2);
    }

    private static IActorRef ResolveWithoutLookup(ActorSystem system, string path) => system.ResolvePath(ActorPath.Parse(path));
}
