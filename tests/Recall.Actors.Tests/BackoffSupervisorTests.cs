using Microsoft.Extensions.Time.Testing;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class BackoffSupervisorTests : IAsyncLifetime
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _time = new();
    private readonly ActorSystem _system;

    public BackoffSupervisorTests() => _system = ActorSystem.Create("test", o => o.TimeProvider = _time);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    /// <summary>Reports its start; "stop" stops it, "fail" throws, anything else is echoed to the sender.</summary>
    private sealed class Child(IActorRef probe) : Actor
    {
        protected override void PreStart() => probe.Tell(("started", Self), Self);

        protected override void Receive(object message)
        {
            switch (message)
            {
                case "stop":
                    Context.Stop(Self);
                    break;
                case "fail":
                    throw new InvalidOperationException("child failed");
                default:
                    Sender.Tell(message, Self);
                    break;
            }
        }
    }

    private BackoffOptions Options(TestProbe probe) => new(Props.Create(() => new Child(probe.Ref)), "child")
    {
        MinBackoff = TimeSpan.FromSeconds(1),
        MaxBackoff = TimeSpan.FromSeconds(4),
        RandomFactor = 0,
        ResetBackoffAfter = TimeSpan.FromHours(1),
    };

    private async Task<(IActorRef Supervisor, IActorRef Child)> StartAsync(TestProbe probe, BackoffOptions options)
    {
        var supervisor = _system.Spawn(BackoffSupervisor.Props(options), "supervisor");
        var child = await ExpectStartedAsync(probe);
        return (supervisor, child);
    }

    private static async Task<IActorRef> ExpectStartedAsync(TestProbe probe) =>
        (await probe.ExpectMsgAsync<(string, IActorRef)>(m => m.Item1 == "started")).Item2;

    private static Task<BackoffSupervisor.CurrentChild> CurrentChildAsync(IActorRef supervisor) =>
        supervisor.Ask<BackoffSupervisor.CurrentChild>(BackoffSupervisor.GetCurrentChild.Instance, TimeSpan.FromMinutes(1))
            .WaitAsync(TestKitSettings.DefaultTimeout);

    /// <summary>Waits until the supervisor has seen its child stop (and so has started the backoff timer).</summary>
    private static Task ChildDownAsync(IActorRef supervisor) =>
        Eventually.TrueAsync(async () => (await CurrentChildAsync(supervisor)).Ref is null, "the supervisor sees its child down");

    [Fact]
    public void DelayFor_doubles_from_the_minimum_up_to_the_maximum()
    {
        var options = new BackoffOptions(Props.Create(() => new Child(_system.DeadLetters)), "child")
        {
            MinBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = TimeSpan.FromSeconds(3),
        };

        Assert.Equal(
            [200, 400, 800, 1600, 3000, 3000],
            Enumerable.Range(0, 6).Select(n => options.DelayFor(n).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromSeconds(3), options.DelayFor(1_000)); // no overflow for large counts
    }

    [Fact]
    public void Props_rejects_invalid_options()
    {
        var props = Props.Create(() => new Child(_system.DeadLetters));

        Assert.Throws<ArgumentException>(() => BackoffSupervisor.Props(new BackoffOptions(props, "c") { MinBackoff = TimeSpan.Zero }));
        Assert.Throws<ArgumentException>(() => BackoffSupervisor.Props(new BackoffOptions(props, "c") { MinBackoff = TimeSpan.FromSeconds(2), MaxBackoff = TimeSpan.FromSeconds(1) }));
        Assert.Throws<ArgumentException>(() => BackoffSupervisor.Props(new BackoffOptions(props, "c") { RandomFactor = 1.5 }));
        Assert.Throws<ArgumentException>(() => BackoffSupervisor.Props(new BackoffOptions(props, "c") { RandomFactor = -0.1 }));
        Assert.ThrowsAny<ArgumentException>(() => new BackoffOptions(props, ""));
    }

    [Fact]
    public async Task The_child_comes_back_no_sooner_than_the_minimum_and_no_later_than_the_minimum_plus_jitter()
    {
        var probe = new TestProbe(_system);
        var options = Options(probe) with { RandomFactor = 0.2 };
        var (supervisor, child) = await StartAsync(probe, options);

        child.Tell("stop", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        await probe.ExpectNoMsgAsync(Quiet);
        Assert.Null((await CurrentChildAsync(supervisor)).Ref);
        _time.Advance(TimeSpan.FromMilliseconds(201)); // 1 s * (1 + 0.2)

        var restarted = await ExpectStartedAsync(probe);
        Assert.NotSame(child, restarted);
        Assert.Equal(child.Path, restarted.Path);
        Assert.Equal(new BackoffSupervisor.CurrentChild(restarted, 1), await CurrentChildAsync(supervisor));
    }

    [Fact]
    public async Task Delays_grow_exponentially_up_to_the_maximum()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe));

        foreach (var seconds in new[] { 1, 2, 4, 4 })
        {
            child.Tell("stop", null);
            await ChildDownAsync(supervisor);
            _time.Advance(TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1));
            await probe.ExpectNoMsgAsync(Quiet);
            _time.Advance(TimeSpan.FromMilliseconds(1));
            child = await ExpectStartedAsync(probe);
        }

        Assert.Equal(4, (await CurrentChildAsync(supervisor)).RestartCount);
    }

    [Fact]
    public async Task A_failing_child_is_restarted_after_the_backoff_too()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe));

        child.Tell("fail", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromSeconds(1));

        await ExpectStartedAsync(probe);
    }

    private sealed class FailsToStart : Actor
    {
        public FailsToStart(IActorRef probe) => probe.Tell("constructing", null);

        protected override void PreStart() => throw new InvalidOperationException("cannot start");

        protected override void Receive(object message)
        {
        }
    }

    [Fact]
    public async Task A_child_that_fails_to_start_is_retried_after_the_backoff()
    {
        var probe = new TestProbe(_system);
        var options = new BackoffOptions(Props.Create(() => new FailsToStart(probe.Ref)), "child")
        {
            MinBackoff = TimeSpan.FromSeconds(1),
            RandomFactor = 0,
        };
        var supervisor = _system.Spawn(BackoffSupervisor.Props(options));
        await probe.ExpectMsgAsync("constructing");

        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        await probe.ExpectNoMsgAsync(Quiet);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        await probe.ExpectMsgAsync("constructing");
    }

    [Fact]
    public async Task The_backoff_resets_after_the_child_ran_for_ResetBackoffAfter()
    {
        var probe = new TestProbe(_system);
        var options = Options(probe) with { ResetBackoffAfter = TimeSpan.FromSeconds(10) };
        var (supervisor, child) = await StartAsync(probe, options);
        foreach (var seconds in new[] { 1, 2, 4 })
        {
            child.Tell("stop", null);
            await ChildDownAsync(supervisor);
            _time.Advance(TimeSpan.FromSeconds(seconds));
            child = await ExpectStartedAsync(probe);
        }

        Assert.Equal(3, (await CurrentChildAsync(supervisor)).RestartCount);
        _time.Advance(TimeSpan.FromSeconds(10)); // a stable run

        await Eventually.TrueAsync(async () => (await CurrentChildAsync(supervisor)).RestartCount == 0, "the restart count is reset");
        child.Tell("stop", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromSeconds(1)); // the minimum again, not 4 s
        await ExpectStartedAsync(probe);
    }

    [Fact]
    public async Task A_short_run_does_not_reset_the_backoff()
    {
        var probe = new TestProbe(_system);
        var options = Options(probe) with { ResetBackoffAfter = TimeSpan.FromSeconds(10) };
        var (supervisor, child) = await StartAsync(probe, options);
        child.Tell("stop", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromSeconds(1));
        child = await ExpectStartedAsync(probe);

        _time.Advance(TimeSpan.FromSeconds(9)); // 1 s short of a stable run
        child.Tell("stop", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromSeconds(1));
        await probe.ExpectNoMsgAsync(Quiet); // the second delay is 2 s
        _time.Advance(TimeSpan.FromSeconds(1));
        await ExpectStartedAsync(probe);
    }

    [Fact]
    public async Task With_the_OnFailure_trigger_a_failed_child_is_restarted()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe) with { Trigger = BackoffTrigger.OnFailure });

        child.Tell("fail", null);
        await ChildDownAsync(supervisor);
        _time.Advance(TimeSpan.FromSeconds(1));

        await ExpectStartedAsync(probe);
    }

    [Fact]
    public async Task With_the_OnFailure_trigger_a_child_that_stops_itself_stops_the_supervisor()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe) with { Trigger = BackoffTrigger.OnFailure });
        probe.Watch(supervisor);

        child.Tell("stop", null);

        await probe.ExpectTerminatedAsync(supervisor);
    }

    [Fact]
    public async Task After_MaxRestarts_restarts_the_supervisor_gives_up_and_stops()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe) with { MaxRestarts = 2 });
        probe.Watch(supervisor);

        foreach (var seconds in new[] { 1, 2 })
        {
            child.Tell("stop", null);
            await ChildDownAsync(supervisor);
            _time.Advance(TimeSpan.FromSeconds(seconds));
            child = await ExpectStartedAsync(probe);
        }

        child.Tell("stop", null);

        await probe.ExpectTerminatedAsync(supervisor);
    }

    [Fact]
    public async Task Messages_to_the_supervisor_are_forwarded_to_the_child_with_the_original_sender()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe));
        var client = new TestProbe(_system);

        client.Send(supervisor, "hello");

        await client.ExpectMsgAsync("hello");
        Assert.Same(child, client.LastSender); // the child answered the client directly
    }

    [Fact]
    public async Task Messages_while_the_child_is_down_are_dead_letters()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe));
        var client = new TestProbe(_system);
        child.Tell("stop", null);
        await ChildDownAsync(supervisor);
        var before = _system.DeadLetterCount;

        client.Send(supervisor, "anyone?");

        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 1, "the message is a dead letter");
        await client.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task GetCurrentChild_names_the_running_child()
    {
        var probe = new TestProbe(_system);
        var (supervisor, child) = await StartAsync(probe, Options(probe));

        var current = await CurrentChildAsync(supervisor);

        Assert.Same(child, current.Ref);
        Assert.Equal(0, current.RestartCount);
        Assert.Equal("recall://test/user/supervisor/child", child.Path.ToString());
    }
}
