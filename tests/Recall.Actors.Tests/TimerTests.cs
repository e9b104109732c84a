using Microsoft.Extensions.Time.Testing;
using Recall.TestKit;

namespace Recall.Actors.Tests;

/// <summary>
/// Timers on a fake clock. The fake fires a timer's callback inside Advance; the actor then
/// handles the message on the thread pool, so the probe waits for it.
/// </summary>
public sealed class TimerTests : IAsyncLifetime
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _time = new();
    private readonly ActorSystem _system;

    public TimerTests() => _system = ActorSystem.Create("test", o => o.TimeProvider = _time);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed record StartSingle(string Key, string Message, TimeSpan Delay);

    private sealed record StartPeriodic(string Key, string Message, TimeSpan Initial, TimeSpan Interval);

    private sealed record CancelTimer(string Key);

    private sealed record IsActive(string Key);

    private sealed record SetTimeout(TimeSpan? Timeout);

    /// <summary>Manages timers on command (acknowledging with "ok") and reports everything else to the probe.</summary>
    private sealed class Clockwork(IActorRef probe) : HoldableActor
    {
        protected override void Receive(object message)
        {
            if (TryHold(message))
            {
                return;
            }

            switch (message)
            {
                case StartSingle single:
                    Timers.StartSingleTimer(single.Key, single.Message, single.Delay);
                    Sender.Tell("ok", Self);
                    break;
                case StartPeriodic periodic:
                    Timers.StartPeriodicTimer(periodic.Key, periodic.Message, periodic.Initial, periodic.Interval);
                    Sender.Tell("ok", Self);
                    break;
                case CancelTimer cancel:
                    Timers.Cancel(cancel.Key);
                    Sender.Tell("ok", Self);
                    break;
                case IsActive active:
                    Sender.Tell(Timers.IsTimerActive(active.Key), Self);
                    break;
                case SetTimeout timeout:
                    Context.SetReceiveTimeout(timeout.Timeout);
                    Sender.Tell("ok", Self);
                    break;
                case "cancel-all":
                    Timers.CancelAll();
                    break;
                case "fail":
                    throw new InvalidOperationException("restart me");
                case "ping":
                    Sender.Tell("pong", Self);
                    break;
                default:
                    probe.Tell(message, Sender);
                    break;
            }
        }
    }

    private IActorRef Spawn(TestProbe probe) => _system.Spawn(Props.Create(() => new Clockwork(probe.Ref)));

    /// <summary>An ask whose timeout runs on the real clock: the fake one only moves when told.</summary>
    private static Task<T> AskAsync<T>(IActorRef target, object message) =>
        target.Ask<T>(message, TimeSpan.FromMinutes(1)).WaitAsync(TestKitSettings.DefaultTimeout);

    private static async Task CommandAsync(IActorRef clockwork, object command) =>
        Assert.Equal("ok", await AskAsync<string>(clockwork, command));

    [Fact]
    public async Task A_single_timer_fires_once_after_its_delay()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartSingle("k", "tick", TimeSpan.FromSeconds(1)));

        _time.Advance(TimeSpan.FromMilliseconds(999));
        await probe.ExpectNoMsgAsync(Quiet);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await probe.ExpectMsgAsync("tick");
        Assert.Same(_system.DeadLetters, probe.LastSender); // timer messages have no sender
        Assert.False(await AskAsync<bool>(clockwork, new IsActive("k")));

        _time.Advance(TimeSpan.FromSeconds(10));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_periodic_timer_fires_every_interval_until_cancelled()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartPeriodic("k", "tick", TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));

        _time.Advance(TimeSpan.FromMilliseconds(1999));
        await probe.ExpectNoMsgAsync(Quiet);
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(i == 0 ? 1 : 1000));
            await probe.ExpectMsgAsync("tick");
        }

        Assert.True(await AskAsync<bool>(clockwork, new IsActive("k")));
        await CommandAsync(clockwork, new CancelTimer("k"));
        Assert.False(await AskAsync<bool>(clockwork, new IsActive("k")));
        _time.Advance(TimeSpan.FromSeconds(5));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Cancel_prevents_delivery()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartSingle("k", "tick", TimeSpan.FromSeconds(1)));

        await CommandAsync(clockwork, new CancelTimer("k"));
        _time.Advance(TimeSpan.FromSeconds(2));

        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Cancel_prevents_delivery_even_when_the_timer_message_is_already_queued()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartSingle("k", "tick", TimeSpan.FromSeconds(1)));
        var gate = new Gate();
        clockwork.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");

        clockwork.Tell(new CancelTimer("k"), null); // queued first
        _time.Advance(TimeSpan.FromSeconds(1)); // the timer's message is queued behind it
        gate.Open();

        await probe.ExpectNoMsgAsync(Quiet);
        Assert.Equal("pong", await AskAsync<string>(clockwork, "ping"));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Starting_a_timer_with_a_key_in_use_replaces_it_even_if_its_message_is_queued()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartSingle("k", "old", TimeSpan.FromSeconds(1)));
        var gate = new Gate();
        clockwork.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");

        clockwork.Tell(new StartSingle("k", "new", TimeSpan.FromSeconds(3)), null); // queued first
        _time.Advance(TimeSpan.FromSeconds(1)); // "old" is queued behind it
        gate.Open();
        await probe.ExpectNoMsgAsync(Quiet);
        _time.Advance(TimeSpan.FromSeconds(3));

        await probe.ExpectMsgAsync("new");
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Timers_with_different_keys_are_independent()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartSingle("a", "tick-a", TimeSpan.FromSeconds(1)));
        await CommandAsync(clockwork, new StartSingle("b", "tick-b", TimeSpan.FromSeconds(2)));
        await CommandAsync(clockwork, new CancelTimer("a"));

        _time.Advance(TimeSpan.FromSeconds(2));

        await probe.ExpectMsgAsync("tick-b");
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task Timers_are_cancelled_when_the_actor_stops()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        probe.Watch(clockwork);
        await CommandAsync(clockwork, new StartPeriodic("k", "tick", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));
        await CommandAsync(clockwork, new StartSingle("s", "single", TimeSpan.FromSeconds(1)));
        _system.Stop(clockwork);
        await probe.ExpectTerminatedAsync(clockwork);
        var before = _system.DeadLetterCount;

        _time.Advance(TimeSpan.FromSeconds(5));

        await probe.ExpectNoMsgAsync(Quiet);
        Assert.Equal(before, _system.DeadLetterCount); // the timers did not even fire
    }

    [Fact]
    public async Task Timers_are_cancelled_when_the_actor_restarts()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new StartPeriodic("k", "tick", TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)));

        clockwork.Tell("fail", null);
        Assert.False(await AskAsync<bool>(clockwork, new IsActive("k")));
        _time.Advance(TimeSpan.FromSeconds(5));

        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task The_receive_timeout_fires_after_an_idle_period()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new SetTimeout(TimeSpan.FromSeconds(1)));

        _time.Advance(TimeSpan.FromMilliseconds(999));
        await probe.ExpectNoMsgAsync(Quiet);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        await probe.ExpectMsgAsync(ReceiveTimeout.Instance);
    }

    [Fact]
    public async Task Messages_reset_the_receive_timeout()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new SetTimeout(TimeSpan.FromSeconds(1)));

        for (var i = 0; i < 3; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(600));
            Assert.Equal("pong", await AskAsync<string>(clockwork, "ping"));
        }

        _time.Advance(TimeSpan.FromMilliseconds(600));
        await probe.ExpectNoMsgAsync(Quiet); // 600 ms since the last message
        _time.Advance(TimeSpan.FromMilliseconds(400));
        await probe.ExpectMsgAsync(ReceiveTimeout.Instance);
    }

    [Fact]
    public async Task After_a_receive_timeout_the_next_message_arms_it_again()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new SetTimeout(TimeSpan.FromSeconds(1)));
        _time.Advance(TimeSpan.FromSeconds(1));
        await probe.ExpectMsgAsync(ReceiveTimeout.Instance);

        Assert.Equal("pong", await AskAsync<string>(clockwork, "ping"));
        _time.Advance(TimeSpan.FromSeconds(1));

        await probe.ExpectMsgAsync(ReceiveTimeout.Instance);
    }

    private sealed record Quiet2 : INotInfluenceReceiveTimeout;

    [Fact]
    public async Task Messages_marked_INotInfluenceReceiveTimeout_do_not_reset_it()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new SetTimeout(TimeSpan.FromSeconds(1)));

        _time.Advance(TimeSpan.FromMilliseconds(600));
        clockwork.Tell(new Quiet2(), null);
        await probe.ExpectMsgAsync<Quiet2>();
        _time.Advance(TimeSpan.FromMilliseconds(400));

        await probe.ExpectMsgAsync(ReceiveTimeout.Instance);
    }

    [Fact]
    public async Task A_null_receive_timeout_switches_it_off()
    {
        var probe = new TestProbe(_system);
        var clockwork = Spawn(probe);
        await CommandAsync(clockwork, new SetTimeout(TimeSpan.FromSeconds(1)));

        await CommandAsync(clockwork, new SetTimeout(null));
        _time.Advance(TimeSpan.FromSeconds(5));

        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ScheduleTellOnce_sends_once_after_the_delay_with_the_given_sender()
    {
        var probe = new TestProbe(_system);
        var sender = new TestProbe(_system);

        _system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), probe.Ref, "later", sender.Ref);
        _time.Advance(TimeSpan.FromMilliseconds(999));
        await probe.ExpectNoMsgAsync(Quiet);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        await probe.ExpectMsgAsync("later");
        Assert.Same(sender.Ref, probe.LastSender);
        _time.Advance(TimeSpan.FromSeconds(5));
        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task A_scheduled_tell_whose_handle_was_dropped_is_still_delivered()
    {
        var probe = new TestProbe(_system);

        _system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), probe.Ref, "once");
        _system.Scheduler.ScheduleTellRepeatedly(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), probe.Ref, "again");
        GC.Collect(); // a timer nobody references may be collected, and never fire
        GC.WaitForPendingFinalizers();
        GC.Collect();
        _time.Advance(TimeSpan.FromSeconds(1));

        var first = new[] { await probe.ExpectMsgAsync<string>(), await probe.ExpectMsgAsync<string>() };
        Assert.Equal(["again", "once"], first.Order(StringComparer.Ordinal));
        _time.Advance(TimeSpan.FromSeconds(1));
        await probe.ExpectMsgAsync("again");
    }

    [Fact]
    public async Task Disposing_a_scheduled_tell_cancels_it()
    {
        var probe = new TestProbe(_system);

        var scheduled = _system.Scheduler.ScheduleTellOnce(TimeSpan.FromSeconds(1), probe.Ref, "later");
        scheduled.Dispose();
        _time.Advance(TimeSpan.FromSeconds(2));

        await probe.ExpectNoMsgAsync(Quiet);
    }

    [Fact]
    public async Task ScheduleTellRepeatedly_sends_every_interval_until_disposed()
    {
        var probe = new TestProbe(_system);

        var scheduled = _system.Scheduler.ScheduleTellRepeatedly(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), probe.Ref, "again");
        _time.Advance(TimeSpan.FromSeconds(1));
        await probe.ExpectMsgAsync("again");
        _time.Advance(TimeSpan.FromSeconds(2));
        await probe.ExpectMsgAsync("again");
        scheduled.Dispose();
        _time.Advance(TimeSpan.FromSeconds(10));

        await probe.ExpectNoMsgAsync(Quiet);
    }
}
