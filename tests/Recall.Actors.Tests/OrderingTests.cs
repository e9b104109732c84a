using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class OrderingTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    /// <summary>Counts messages and detects two threads inside Receive at once.</summary>
    private sealed class OverlapDetector : Actor
    {
        private int _inside;
        private int _overlaps;
        private int _count; // deliberately not atomic: lost updates would show concurrent handling

        protected override void Receive(object message)
        {
            if (Interlocked.Increment(ref _inside) != 1)
            {
                Interlocked.Increment(ref _overlaps);
            }

            if (message is "report")
            {
                Sender.Tell((_count, _overlaps), Self);
            }
            else
            {
                _count++;
                Thread.SpinWait(50); // widen the window in which an overlap would be seen
            }

            Interlocked.Decrement(ref _inside);
        }
    }

    [Fact]
    public async Task An_actor_handles_one_message_at_a_time_whatever_the_number_of_sending_threads()
    {
        var probe = new TestProbe(_system);
        var detector = _system.Spawn(Props.Create(() => new OverlapDetector()));
        const int senders = 8, perSender = 5_000;

        await Task.WhenAll(Enumerable.Range(0, senders).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < perSender; i++)
            {
                detector.Tell(i, null);
            }
        })));
        probe.Send(detector, "report");

        var (count, overlaps) = await probe.ExpectMsgAsync<(int, int)>(timeout: TimeSpan.FromSeconds(20));
        Assert.Equal(0, overlaps);
        Assert.Equal(senders * perSender, count);
    }

    private sealed record Numbered(int Sender, int Sequence);

    /// <summary>Sends <paramref name="count"/> numbered messages to the target when told "go".</summary>
    private sealed class NumberSender(int id, IActorRef target, int count) : Actor
    {
        protected override void Receive(object message)
        {
            for (var i = 0; i < count; i++)
            {
                target.Tell(new Numbered(id, i));
            }
        }
    }

    /// <summary>Checks that each sender's numbers arrive in order and that the sender ref is the one in the message.</summary>
    private sealed class OrderChecker(int expected, IActorRef report) : Actor
    {
        private readonly Dictionary<int, int> _next = [];
        private readonly Dictionary<int, IActorRef> _senders = [];
        private int _received;
        private int _outOfOrder;

        protected override void Receive(object message)
        {
            if (message is not Numbered numbered)
            {
                return;
            }

            var next = _next.GetValueOrDefault(numbered.Sender);
            if (numbered.Sequence != next)
            {
                _outOfOrder++;
            }

            _next[numbered.Sender] = numbered.Sequence + 1;
            if (_senders.TryGetValue(numbered.Sender, out var known) && known != Sender)
            {
                _outOfOrder++;
            }

            _senders[numbered.Sender] = Sender;
            if (++_received == expected)
            {
                report.Tell((_outOfOrder, _next.OrderBy(p => p.Key).Select(p => p.Value).ToArray()), Self);
            }
        }
    }

    [Fact]
    public async Task Messages_from_one_sender_arrive_in_the_order_sent_while_senders_run_concurrently()
    {
        var probe = new TestProbe(_system);
        const int senders = 4, perSender = 10_000;
        var checker = _system.Spawn(Props.Create(() => new OrderChecker(senders * perSender, probe.Ref)));
        var actors = Enumerable.Range(0, senders)
            .Select(id => _system.Spawn(Props.Create(() => new NumberSender(id, checker, perSender))))
            .ToList();

        actors.ForEach(a => a.Tell("go", null));

        var (outOfOrder, nextPerSender) = await probe.ExpectMsgAsync<(int, int[])>(timeout: TimeSpan.FromSeconds(20));
        Assert.Equal(0, outOfOrder);
        Assert.Equal(Enumerable.Repeat(perSender, senders), nextPerSender);
    }

    [Fact]
    public async Task Messages_from_one_thread_arrive_in_the_order_sent_while_threads_send_concurrently()
    {
        var probe = new TestProbe(_system);
        const int senders = 4, perSender = 10_000;
        var checker = _system.Spawn(Props.Create(() => new OrderChecker(senders * perSender, probe.Ref)));

        await Task.WhenAll(Enumerable.Range(0, senders).Select(id => Task.Run(() =>
        {
            for (var i = 0; i < perSender; i++)
            {
                checker.Tell(new Numbered(id, i), null);
            }
        })));

        var (outOfOrder, nextPerSender) = await probe.ExpectMsgAsync<(int, int[])>(timeout: TimeSpan.FromSeconds(20));
        Assert.Equal(0, outOfOrder);
        Assert.Equal(Enumerable.Repeat(perSender, senders), nextPerSender);
    }

    /// <summary>Reports every message to the probe; "stop" stops itself through its context.</summary>
    private sealed class Reporter(IActorRef probe) : HoldableActor
    {
        protected override void Receive(object message)
        {
            if (TryHold(message))
            {
                return;
            }

            probe.Tell(message, Self);
            if (message is "stop")
            {
                Context.Stop(Self);
            }
        }
    }

    private async Task<(IActorRef Actor, TestProbe Probe, Gate Gate)> SpawnHeldReporterAsync()
    {
        var probe = new TestProbe(_system);
        var actor = _system.Spawn(Props.Create(() => new Reporter(probe.Ref)));
        probe.Watch(actor);
        var gate = new Gate();
        actor.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");
        return (actor, probe, gate);
    }

    [Fact]
    public async Task Context_Stop_takes_effect_before_the_user_messages_still_queued()
    {
        var (actor, probe, gate) = await SpawnHeldReporterAsync();
        var before = _system.DeadLetterCount;
        actor.Tell("stop", null);
        actor.Tell("after-1", null);
        actor.Tell("after-2", null);

        gate.Open();

        await probe.ExpectMsgAsync("stop");
        await probe.ExpectTerminatedAsync(actor);
        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 2, "the two queued messages became dead letters");
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task A_stop_from_outside_overtakes_queued_user_messages()
    {
        var (actor, probe, gate) = await SpawnHeldReporterAsync();
        actor.Tell("queued-1", null);
        actor.Tell("queued-2", null);

        _system.Stop(actor); // a system message: handled before the user messages
        gate.Open();

        await probe.ExpectTerminatedAsync(actor);
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task PoisonPill_stops_the_actor_after_the_messages_queued_before_it()
    {
        var (actor, probe, gate) = await SpawnHeldReporterAsync();
        actor.Tell("before-1", null);
        actor.Tell("before-2", null);
        actor.Tell(PoisonPill.Instance, null);
        actor.Tell("after", null);

        gate.Open();

        await probe.ExpectMsgAsync("before-1");
        await probe.ExpectMsgAsync("before-2");
        await probe.ExpectTerminatedAsync(actor);
        await probe.ExpectNoMsgAsync();
    }

    /// <summary>
    /// Reports, for each message, whether the previous message was handled in the same turn. The
    /// thread pool gives every work item a fresh execution context, so a value set in an
    /// AsyncLocal while handling one message is still visible to the next one only if both were
    /// handled in the same turn of the actor.
    /// </summary>
    private sealed class TurnObserver(IActorRef probe) : HoldableActor
    {
        private static readonly AsyncLocal<string?> s_previous = new();

        protected override void Receive(object message)
        {
            if (TryHold(message))
            {
                return;
            }

            var text = (string)message;
            probe.Tell((text, s_previous.Value), Self);
            s_previous.Value = text;
        }
    }

    private static async Task<List<(string Message, string? PreviousInTurn)>> ObserveTurnsAsync(int throughput)
    {
        await using var system = ActorSystem.Create("turns", o => o.Throughput = throughput);
        var probe = new TestProbe(system);
        var actor = system.Spawn(Props.Create(() => new TurnObserver(probe.Ref)));
        var gate = new Gate();
        actor.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");
        for (var i = 0; i < 10; i++)
        {
            actor.Tell($"m{i}", null); // all queued before the actor may look at them
        }

        gate.Open();
        var seen = new List<(string, string?)>();
        for (var i = 0; i < 10; i++)
        {
            seen.Add(await probe.ExpectMsgAsync<(string, string?)>());
        }

        return seen;
    }

    [Fact]
    public async Task With_throughput_1_every_message_gets_a_turn_of_its_own()
    {
        var seen = await ObserveTurnsAsync(throughput: 1);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), seen.Select(s => s.Message));
        Assert.All(seen, s => Assert.Null(s.PreviousInTurn));
    }

    [Fact]
    public async Task With_the_default_throughput_queued_messages_share_a_turn()
    {
        var seen = await ObserveTurnsAsync(throughput: 100);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"m{i}"), seen.Select(s => s.Message));
        Assert.Null(seen[0].PreviousInTurn);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => $"m{i}"), seen.Skip(1).Select(s => s.PreviousInTurn));
    }

    [Fact]
    public async Task With_throughput_3_a_turn_handles_at_most_3_messages()
    {
        var seen = await ObserveTurnsAsync(throughput: 3);

        // The turn that ends the hold handles m0-m2, then m3-m5, m6-m8, m9.
        Assert.Equal(
            [null, "m0", "m1", null, "m3", "m4", null, "m6", "m7", null],
            seen.Select(s => s.PreviousInTurn));
    }
}
