using System.Diagnostics;
using Recall.Diagnostics;

namespace Recall.Actors.Internal;

/// <summary>
/// Carries trace context (W3C) with messages: a message told while an <see cref="Activity"/> is
/// current travels wrapped in a <see cref="TracedMessage"/>, and the receiving actor handles it
/// under a <c>recall.receive</c> activity whose parent is the sender's, so one command's trace spans
/// every actor (and node) it passes. Without a current activity nothing is wrapped or allocated.
/// </summary>
internal static class ActorTracing
{
    public static readonly ActivitySource Source = new(RecallDiagnostics.ActorsActivitySourceName);

    /// <summary>The message as it goes into a mailbox: wrapped with the current trace context when there is one.</summary>
    public static object Capture(object message) =>
        Activity.Current is { } current && message is not TracedMessage
            ? new TracedMessage(message, current.Context)
            : message;

    /// <summary>Starts the activity a traced message is handled under; it is current until stopped.</summary>
    public static Activity StartReceive(TracedMessage traced, ActorPath recipient)
    {
        var name = "recall.receive";
        var activity = Source.StartActivity(name, ActivityKind.Consumer, traced.Parent)
            ?? new Activity(name).SetParentId(traced.Parent.TraceId, traced.Parent.SpanId, traced.Parent.TraceFlags).Start();
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(RecallDiagnostics.ActorPathTag, recipient.ToString());
            activity.SetTag(RecallDiagnostics.MessageTypeTag, traced.Message.GetType().Name);
        }

        return activity;
    }

    /// <summary>
    /// A timer whose callbacks run without the creator's execution context: a timer started while a
    /// traced message is handled must not tell every tick under that message's trace.
    /// </summary>
    public static ITimer CreateTimer(TimeProvider clock, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (ExecutionContext.IsFlowSuppressed())
        {
            return clock.CreateTimer(callback, state, dueTime, period);
        }

        using (ExecutionContext.SuppressFlow())
        {
            return clock.CreateTimer(callback, state, dueTime, period);
        }
    }

    /// <summary>The activity of an ask, when somebody listens to the actors' source.</summary>
    public static Activity? StartAsk(IActorRef target, object message)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var activity = Source.StartActivity("recall.ask", ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RecallDiagnostics.ActorPathTag, target.Path.ToString());
            activity.SetTag(RecallDiagnostics.MessageTypeTag, message.GetType().Name);
        }

        return activity;
    }
}

/// <summary>A message with the trace context of the code that told it; the kernel unwraps it before any actor sees it.</summary>
internal sealed class TracedMessage(object message, ActivityContext parent)
{
    public object Message { get; } = message;

    public ActivityContext Parent { get; } = parent;
}
