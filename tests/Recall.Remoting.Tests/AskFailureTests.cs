using Recall.Actors;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

/// <summary>An ask across nodes fails at once, as a local one does, when the asked actor will not answer.</summary>
public sealed class AskFailureTests
{
    // Far longer than the test may take: an ask that fails with AskFailedException failed at once, not by this timeout.
    private static readonly TimeSpan LongAsk = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_remote_ask_whose_handler_throws_fails_at_once_naming_the_exception()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Thrower()), "thrower");
        var thrower = await b.ResolveAsync($"{a.Address}/user/thrower", Nodes.Timeout);

        var failure = await Assert.ThrowsAsync<AskFailedException>(() => thrower.Ask<Ping>(new Ping(1), LongAsk));

        Assert.Equal(thrower.Path, failure.Recipient);
        Assert.Equal(typeof(Ping), failure.MessageType);
        Assert.Contains("InvalidOperationException: no pings here", failure.Reason, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => b.TempRefCount == 0, "the failed ask is no longer reachable by path");
    }

    [Fact]
    public async Task A_remote_ask_of_an_actor_that_has_stopped_fails_at_once()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        var local = a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        Assert.Equal(new Ping(1), await echo.Ask<Ping>(new Ping(1), Nodes.Timeout));
        var probe = new TestProbe(a);
        probe.Watch(local);
        a.Stop(local);
        await probe.ExpectTerminatedAsync(local, Nodes.Timeout);

        var failure = await Assert.ThrowsAsync<AskFailedException>(() => echo.Ask<Ping>(new Ping(2), LongAsk));

        Assert.Contains("not delivered", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_remote_ask_answered_in_time_is_not_failed_by_a_later_failure_of_the_actor()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new AnswerThenThrow()), "answerer");
        var answerer = await b.ResolveAsync($"{a.Address}/user/answerer", Nodes.Timeout);

        Assert.Equal(new Ping(5), await answerer.Ask<Ping>(new Ping(5), Nodes.Timeout));
    }

    private sealed class Thrower : Actor
    {
        protected override void Receive(object message) => throw new InvalidOperationException("no pings here");
    }

    private sealed class AnswerThenThrow : Actor
    {
        protected override void Receive(object message)
        {
            Sender.Tell(message, Self);
            throw new InvalidOperationException("after the answer");
        }
    }
}
