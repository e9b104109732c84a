using System.Diagnostics.Metrics;
using Recall.Actors.Internal;
using Recall.Diagnostics;
using Recall.TestKit;

namespace Recall.Actors.Tests;

/// <summary>
/// The kernel's meter. Meters are process-wide and test classes run in parallel, so each test
/// gives its system a name of its own and reads only the measurements tagged with it.
/// </summary>
public sealed class DiagnosticsTests : IAsyncLifetime
{
    private readonly string _name = "metrics-" + Guid.NewGuid().ToString("N")[..12];
    private readonly ActorSystem _system;

    public DiagnosticsTests() => _system = ActorSystem.Create(_name);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed class Holder : HoldableActor
    {
        protected override void Receive(object message)
        {
            if (!TryHold(message) && message is "ping")
            {
                Sender.Tell("pong", Self);
            }
        }
    }

    [Fact]
    public async Task Mailbox_depth_counts_the_messages_waiting_in_the_system()
    {
        var probe = new TestProbe(_system);
        var gate = new Gate();
        var actor = _system.Spawn(Props.Create(() => new Holder()), "holder");
        actor.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");

        for (var i = 0; i < 50; i++)
        {
            actor.Tell("ping", probe.Ref);
        }

        Assert.Equal(50, ObserveOwn("recall.actor.mailbox.depth"));

        gate.Open();
        for (var i = 0; i < 50; i++)
        {
            await probe.ExpectMsgAsync("pong");
        }

        Assert.Equal(0, ObserveOwn("recall.actor.mailbox.depth"));
    }

    [Fact]
    public async Task Dead_letters_are_counted_per_system()
    {
        var probe = new TestProbe(_system);
        var actor = _system.Spawn(Props.Create(() => new Holder()));
        probe.Watch(actor);
        _system.Stop(actor);
        await probe.ExpectTerminatedAsync(actor);
        Assert.Equal(0, ObserveOwn("recall.actor.dead_letters"));

        for (var i = 0; i < 3; i++)
        {
            actor.Tell("ping", null);
        }

        await Eventually.TrueAsync(() => _system.DeadLetterCount == 3, "three dead letters were counted");
        Assert.Equal(3, ObserveOwn("recall.actor.dead_letters"));
    }

    [Fact]
    public async Task A_terminated_system_is_no_longer_reported()
    {
        Assert.Equal(0, ObserveOwn("recall.actor.mailbox.depth"));

        await _system.TerminateAsync();

        Assert.Null(ObserveOwnOrNull("recall.actor.mailbox.depth"));
    }

    [Fact]
    public void Approximate_count_follows_enqueues_and_dequeues_across_segments()
    {
        var box = new QueueBox();
        Assert.Equal(0, box.Queue.ApproximateCount);

        for (var i = 0; i < 5_000; i++)
        {
            box.Queue.Enqueue(i);
        }

        Assert.Equal(5_000, box.Queue.ApproximateCount);
        for (var i = 0; i < 4_321; i++)
        {
            box.Queue.TryDequeue(out _);
        }

        Assert.Equal(679, box.Queue.ApproximateCount);
        while (box.Queue.TryDequeue(out _))
        {
        }

        Assert.Equal(0, box.Queue.ApproximateCount);
    }

    private long ObserveOwn(string instrument) =>
        ObserveOwnOrNull(instrument) ?? throw new InvalidOperationException($"{instrument} reported nothing for {_name}.");

    /// <summary>Collects the observable instruments once and returns the value tagged with this test's system.</summary>
    private long? ObserveOwnOrNull(string instrument)
    {
        long? seen = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (published, l) =>
        {
            if (published.Meter.Name == RecallDiagnostics.ActorsMeterName && published.Name == instrument)
            {
                l.EnableMeasurementEvents(published);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == RecallDiagnostics.ActorSystemTag && (string?)tag.Value == _name)
                {
                    seen = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }

    private sealed class QueueBox
    {
        public MpscQueue<int> Queue;
    }
}
