using System.Collections.Concurrent;
using System.Diagnostics;
using Recall.Diagnostics;
using Recall.TestKit;

namespace Recall.Actors.Tests;

/// <summary>Trace context travels with every Tell: an actor handles a message under a child of the activity that told it.</summary>
public sealed class TracingTests
{
    private sealed record TraceSeen(ActivityTraceId? TraceId, ActivitySpanId? ParentSpanId, string? Name);

    private sealed class Reporter(IActorRef probe) : Actor
    {
        protected override void Receive(object message)
        {
            var current = Activity.Current;
            probe.Tell(new TraceSeen(current?.TraceId, current?.ParentSpanId, current?.OperationName), Self);
            if (message is "question")
            {
                Sender?.Tell(message, Self);
            }
        }
    }

    private sealed class Relay(IActorRef next) : Actor
    {
        protected override void Receive(object message) => next.Tell(message, Self);
    }

    [Fact]
    public async Task A_message_told_under_an_activity_is_handled_under_its_trace_across_actors()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = Listen(stopped);
        await using var system = ActorSystem.Create("tracing");
        var probe = new TestProbe(system);
        var last = system.Spawn(Props.Create(() => new Reporter(probe.Ref)), "last");
        var first = system.Spawn(Props.Create(() => new Relay(last)), "first");

        var command = new Activity("command").Start();
        first.Tell("go", null);
        command.Stop();

        var seen = await probe.ExpectMsgAsync<TraceSeen>();
        Assert.Equal(command.TraceId, seen.TraceId);
        Assert.Equal("recall.receive", seen.Name);

        // first's receive is a child of the command, last's a child of first's receive.
        // (the probe's own receive of the report is a third one of this trace)
        await Eventually.TrueAsync(() => stopped.Count(a => a.TraceId == command.TraceId) == 3, "the receives were recorded");
        var receives = stopped.Where(a => a.TraceId == command.TraceId).ToList();
        var atFirst = Assert.Single(receives, a => (string?)a.GetTagItem(RecallDiagnostics.ActorPathTag) == first.Path.ToString());
        var atLast = Assert.Single(receives, a => (string?)a.GetTagItem(RecallDiagnostics.ActorPathTag) == last.Path.ToString());
        Assert.Equal(command.SpanId, atFirst.ParentSpanId);
        Assert.Equal(atFirst.SpanId, seen.ParentSpanId);
        Assert.Equal(atFirst.SpanId, atLast.ParentSpanId);
        Assert.Equal("String", atLast.GetTagItem(RecallDiagnostics.MessageTypeTag));
    }

    private sealed class Ticker(IActorRef probe) : Actor
    {
        protected override void Receive(object message)
        {
            if (message is "start")
            {
                Timers.StartPeriodicTimer("tick", "tick", TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10));
            }
            else if (message is "tick")
            {
                probe.Tell(new TraceSeen(Activity.Current?.TraceId, null, Activity.Current?.OperationName), Self);
                Timers.Cancel("tick");
            }
        }
    }

    [Fact]
    public async Task A_timer_started_while_handling_a_traced_message_does_not_tick_under_its_trace()
    {
        await using var system = ActorSystem.Create("ticking");
        var probe = new TestProbe(system);
        var ticker = system.Spawn(Props.Create(() => new Ticker(probe.Ref)));

        var command = new Activity("command").Start();
        ticker.Tell("start", null);
        command.Stop();

        Assert.Equal(new TraceSeen(null, null, null), await probe.ExpectMsgAsync<TraceSeen>());
    }

    [Fact]
    public async Task Without_a_current_activity_a_message_is_handled_without_one()
    {
        await using var system = ActorSystem.Create("untraced");
        var probe = new TestProbe(system);
        var reporter = system.Spawn(Props.Create(() => new Reporter(probe.Ref)));

        Assert.Null(Activity.Current);
        reporter.Tell("go", null);

        Assert.Equal(new TraceSeen(null, null, null), await probe.ExpectMsgAsync<TraceSeen>());
    }

    [Fact]
    public async Task An_ask_is_an_activity_the_reply_handler_runs_under_when_somebody_listens()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = Listen(stopped);
        await using var system = ActorSystem.Create("asking");
        var probe = new TestProbe(system);
        var reporter = system.Spawn(Props.Create(() => new Reporter(probe.Ref)), "reporter");

        Assert.Equal("question", await reporter.Ask<string>("question", TestKitSettings.DefaultTimeout));

        var seen = await probe.ExpectMsgAsync<TraceSeen>();
        await Eventually.TrueAsync(() => stopped.Any(a => a.OperationName == "recall.ask" && a.TraceId == seen.TraceId), "the ask was recorded");
        var ask = stopped.First(a => a.OperationName == "recall.ask" && a.TraceId == seen.TraceId);
        Assert.Equal(reporter.Path.ToString(), ask.GetTagItem(RecallDiagnostics.ActorPathTag));
    }

    private static ActivityListener Listen(ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RecallDiagnostics.ActorsActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
