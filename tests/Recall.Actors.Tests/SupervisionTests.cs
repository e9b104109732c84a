using Microsoft.Extensions.Time.Testing;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class SupervisionTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly ActorSystem _system;

    public SupervisionTests() => _system = ActorSystem.Create("test", o => o.TimeProvider = _time);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed class Boom(string message) : Exception(message);

    /// <summary>
    /// A counter: "inc" adds one, "get" replies (instance, count), "fail" throws (and counts how
    /// often it was handled). Reports its starts and restarts to the probe.
    /// </summary>
    private sealed class Counter : Actor
    {
        private static int s_instances;
        private readonly IActorRef _probe;
        private readonly int _instance = Interlocked.Increment(ref s_instances);
        private int _count;

        public Counter(IActorRef probe) => _probe = probe;

        public static int FailuresHandled;

        protected override void PreStart() => _probe.Tell("started", Self);

        protected override void PostRestart(Exception reason)
        {
            _probe.Tell($"restarted after {reason.Message}", Self);
            base.PostRestart(reason);
        }

        protected override void PostStop() => _probe.Tell("stopped", Self);

        protected override void Receive(object message)
        {
            switch (message)
            {
                case "inc":
                    _count++;
                    break;
                case "get":
                    Sender.Tell((_instance, _count), Self);
                    break;
                case "fail":
                    Interlocked.Increment(ref FailuresHandled);
                    throw new Boom("fail");
                case Exception error:
                    throw error;
            }
        }
    }

    private async Task<(IActorRef Child, TestProbe Probe, TestProbe Failures)> SpawnSupervisedAsync(Func<IActorRef, SupervisorStrategy> strategy)
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var parent = _system.Spawn(Props.Create(() => new Parent(strategy(failures.Ref))));
        var child = await parent.SpawnChildAsync(Props.Create(() => new Counter(probe.Ref)), "child");
        await probe.ExpectMsgAsync("started");
        probe.Watch(child);
        return (child, probe, failures);
    }

    private static async Task<int> CountAsync(IActorRef child, TestProbe probe)
    {
        probe.Send(child, "get");
        return (await probe.ExpectMsgAsync<(int Instance, int Count)>()).Count;
    }

    [Fact]
    public async Task Resume_keeps_the_instance_and_its_state_and_drops_the_failing_message()
    {
        var (child, probe, failures) = await SpawnSupervisedAsync(f => Strategies.Reporting(f, Directive.Resume));

        probe.Send(child, "inc");
        probe.Send(child, "inc");
        probe.Send(child, new Boom("resume me"));
        probe.Send(child, "inc");

        Assert.Equal("resume me", (await failures.ExpectMsgAsync<Boom>()).Message);
        Assert.Equal(3, await CountAsync(child, probe));
        await probe.ExpectNoMsgAsync(); // neither restarted nor stopped
    }

    [Fact]
    public async Task Restart_resets_state_keeps_the_mailbox_and_drops_the_failing_message()
    {
        Counter.FailuresHandled = 0;
        var (child, probe, failures) = await SpawnSupervisedAsync(f => Strategies.Reporting(f, Directive.Restart));
        probe.Send(child, "get");
        var (firstInstance, _) = await probe.ExpectMsgAsync<(int, int)>();

        // All queued together: the messages behind the failing one go to the new instance.
        probe.Send(child, "inc");
        probe.Send(child, "inc");
        probe.Send(child, "fail");
        probe.Send(child, "inc");
        probe.Send(child, "get");

        await failures.ExpectMsgAsync<Boom>();
        await probe.ExpectMsgAsync("stopped"); // the default PreRestart calls PostStop
        await probe.ExpectMsgAsync("restarted after fail");
        await probe.ExpectMsgAsync("started"); // the default PostRestart calls PreStart
        var (instance, count) = await probe.ExpectMsgAsync<(int, int)>();
        Assert.NotEqual(firstInstance, instance);
        Assert.Equal(1, count); // the old state is gone; the queued "inc" was handled by the new instance
        Assert.Equal(1, Counter.FailuresHandled); // the failing message was not handled again
    }

    [Fact]
    public async Task Stop_stops_the_failing_child()
    {
        var (child, probe, failures) = await SpawnSupervisedAsync(f => Strategies.Reporting(f, Directive.Stop));

        probe.Send(child, "fail");
        probe.Send(child, "inc");

        await failures.ExpectMsgAsync<Boom>();
        await probe.ExpectMsgAsync("stopped");
        await probe.ExpectTerminatedAsync(child);
    }

    [Fact]
    public async Task The_default_strategy_restarts_on_any_exception_without_limit()
    {
        var probe = new TestProbe(_system);
        var child = _system.Spawn(Props.Create(() => new Counter(probe.Ref)), "top");
        await probe.ExpectMsgAsync("started");

        for (var i = 0; i < 20; i++)
        {
            probe.Send(child, "fail");
            await probe.ExpectMsgAsync("stopped");
            await probe.ExpectMsgAsync("restarted after fail");
            await probe.ExpectMsgAsync("started");
        }

        probe.Send(child, "inc");
        Assert.Equal(1, await CountAsync(child, probe));
    }

    [Fact]
    public void The_default_decider_stops_on_initialization_and_death_pact_failures_and_restarts_on_the_rest()
    {
        var path = ActorPath.Root(new Address("test")).Child("user");
        var somebody = _system.DeadLetters;

        Assert.Equal(Directive.Stop, SupervisorStrategy.DefaultDecider(new ActorInitializationException(path, new Boom("x"))));
        Assert.Equal(Directive.Stop, SupervisorStrategy.DefaultDecider(new DeathPactException(somebody)));
        Assert.Equal(Directive.Restart, SupervisorStrategy.DefaultDecider(new Boom("x")));
        Assert.Equal(Directive.Restart, SupervisorStrategy.DefaultDecider(new InvalidOperationException()));
    }

    private sealed class ThrowingConstructor : Actor
    {
        public ThrowingConstructor() => throw new Boom("no constructor for you");

        protected override void Receive(object message)
        {
        }
    }

    private sealed class ThrowingPreStart : Actor
    {
        protected override void PreStart() => throw new Boom("no start for you");

        protected override void Receive(object message)
        {
        }
    }

    [Theory]
    [InlineData("constructor", "no constructor for you")]
    [InlineData("PreStart", "no start for you")]
    public async Task A_failure_to_start_is_an_ActorInitializationException_and_stops_the_actor_by_default(string where, string cause)
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var parent = _system.Spawn(Props.Create(() => new Parent(Strategies.ReportingDefault(failures.Ref))));

        var child = await parent.SpawnChildAsync(where == "constructor" ? Props.Create(() => new ThrowingConstructor()) : Props.Create(() => new ThrowingPreStart()), "broken");
        probe.Watch(child);

        var error = await failures.ExpectMsgAsync<ActorInitializationException>();
        Assert.Equal(child.Path, error.Actor);
        Assert.Contains("recall://test/user/", error.Message, StringComparison.Ordinal);
        Assert.Equal(cause, Assert.IsType<Boom>(error.InnerException).Message);
        await probe.ExpectTerminatedAsync(child);
    }

    [Fact]
    public async Task A_constructor_failure_of_a_top_level_actor_stops_it()
    {
        var probe = new TestProbe(_system);

        var actor = _system.Spawn(Props.Create(() => new ThrowingConstructor()));
        probe.Watch(actor);

        await probe.ExpectTerminatedAsync(actor);
    }

    [Fact]
    public async Task The_retry_window_stops_a_child_at_the_failure_after_maxRetries_restarts()
    {
        var window = TimeSpan.FromSeconds(10);
        var (child, probe, failures) = await SpawnSupervisedAsync(f => new OneForOneStrategy(2, window, e =>
        {
            f.Tell(e, null);
            return Directive.Restart;
        }));

        for (var i = 0; i < 2; i++)
        {
            probe.Send(child, "fail");
            await failures.ExpectMsgAsync<Boom>();
            await probe.ExpectMsgAsync("stopped");
            await probe.ExpectMsgAsync("restarted after fail");
            await probe.ExpectMsgAsync("started");
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        probe.Send(child, "fail"); // the 3rd failure within 10 s

        await failures.ExpectMsgAsync<Boom>();
        await probe.ExpectMsgAsync("stopped");
        await probe.ExpectTerminatedAsync(child);
    }

    [Fact]
    public async Task Failures_spread_wider_than_the_retry_window_keep_restarting()
    {
        var window = TimeSpan.FromSeconds(10);
        var (child, probe, failures) = await SpawnSupervisedAsync(f => new OneForOneStrategy(2, window, e =>
        {
            f.Tell(e, null);
            return Directive.Restart;
        }));

        for (var i = 0; i < 6; i++)
        {
            probe.Send(child, "fail");
            await failures.ExpectMsgAsync<Boom>();
            await probe.ExpectMsgAsync("stopped");
            await probe.ExpectMsgAsync("restarted after fail");
            await probe.ExpectMsgAsync("started");
            if (i % 2 == 1)
            {
                _time.Advance(window + TimeSpan.FromSeconds(1)); // a new window every two failures
            }
        }

        probe.Send(child, "inc");
        Assert.Equal(1, await CountAsync(child, probe));
    }

    [Fact]
    public async Task MaxRetries_0_stops_at_the_first_failure()
    {
        var (child, probe, _) = await SpawnSupervisedAsync(f => new OneForOneStrategy(0, null, _ => Directive.Restart));

        probe.Send(child, "fail");

        await probe.ExpectMsgAsync("stopped");
        await probe.ExpectTerminatedAsync(child);
    }

    [Fact]
    public async Task Without_a_window_the_retry_limit_counts_over_the_whole_life_of_the_child()
    {
        var (child, probe, _) = await SpawnSupervisedAsync(f => new OneForOneStrategy(2, null, _ => Directive.Restart));

        for (var i = 0; i < 2; i++)
        {
            probe.Send(child, "fail");
            await probe.ExpectMsgAsync("stopped");
            await probe.ExpectMsgAsync("restarted after fail");
            await probe.ExpectMsgAsync("started");
            _time.Advance(TimeSpan.FromDays(1));
        }

        probe.Send(child, "fail");

        await probe.ExpectMsgAsync("stopped");
        await probe.ExpectTerminatedAsync(child);
    }

    [Fact]
    public void OneForOneStrategy_rejects_a_negative_limit_other_than_minus_one() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneForOneStrategy(-2, null, _ => Directive.Restart));

    /// <summary>A parent whose strategy escalates; it reports its own restarts.</summary>
    private sealed class Escalating(IActorRef probe) : Actor
    {
        protected override SupervisorStrategy SupervisorStrategy => new OneForOneStrategy(_ => Directive.Escalate);

        protected override void PreStart() => probe.Tell(("middle started", Context.Spawn(Props.Create(() => new Counter(probe)), "leaf")), Self);

        protected override void PostRestart(Exception reason)
        {
            probe.Tell(("middle restarted", reason), Self);
            base.PostRestart(reason);
        }

        protected override void Receive(object message) => Unhandled(message);
    }

    /// <summary>A parent whose strategy escalates; it spawns a counter on request.</summary>
    private sealed class EscalatingParent : Actor
    {
        protected override SupervisorStrategy SupervisorStrategy => new OneForOneStrategy(_ => Directive.Escalate);

        protected override void Receive(object message)
        {
            if (message is SpawnChild spawn)
            {
                Sender.Tell(Context.Spawn(spawn.Props, spawn.Name), Self);
            }
        }
    }

    [Fact]
    public async Task When_the_grandparent_resumes_an_escalated_failure_the_failed_child_resumes_too()
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var grandparent = _system.Spawn(Props.Create(() => new Parent(Strategies.Reporting(failures.Ref, Directive.Resume))));
        var middle = await grandparent.SpawnChildAsync(Props.Create(() => new EscalatingParent()));
        var leaf = await middle.SpawnChildAsync(Props.Create(() => new Counter(probe.Ref)));
        await probe.ExpectMsgAsync("started");

        probe.Send(leaf, "inc");
        probe.Send(leaf, new Boom("escalate me"));
        probe.Send(leaf, "inc");

        await failures.ExpectMsgAsync<Boom>();
        Assert.Equal(2, await CountAsync(leaf, probe)); // the leaf kept its state and handles messages again
    }

    [Fact]
    public async Task Escalate_hands_the_failure_to_the_grandparent()
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var grandparent = _system.Spawn(Props.Create(() => new Parent(Strategies.Reporting(failures.Ref, Directive.Restart))), "grandparent");
        var middle = await grandparent.SpawnChildAsync(Props.Create(() => new Escalating(probe.Ref)), "middle");
        var (_, leaf) = await probe.FishForMessageAsync<(string, IActorRef)>(m => m.Item1 == "middle started");
        await probe.FishForMessageAsync<string>(m => m == "started");

        var thrown = new Boom("escalate me");
        leaf.Tell(thrown, null);

        // The grandparent decides about the middle actor, with the leaf's exception.
        Assert.Same(thrown, await failures.ExpectMsgAsync<Boom>());
        var (_, reason) = await probe.FishForMessageAsync<(string, Exception)>(m => m.Item1 == "middle restarted");
        Assert.Same(thrown, reason);
        Assert.Equal("recall://test/user/grandparent/middle", middle.Path.ToString());
        await failures.ExpectNoMsgAsync();
    }
}
