using System.Diagnostics;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// The tracing and measuring of one <see cref="RunningPhase"/>, made the first time a meter or
/// activity listener is attached: a <c>recall.command</c> activity around each command, and for
/// each write request sent while someone listens, its send time and a <c>recall.persist</c>
/// activity (a child of the command's), kept under the request's number until the handlers of its
/// answer have run inside that activity. Requests sent while nobody listened have no trace.
/// </summary>
internal sealed class PersistTracing(EventSourcedRuntime runtime, RunningPhase running)
{
    private readonly Queue<RequestTrace> _traces = new();

    /// <summary>Runs a command (<see cref="RunningPhase.RunCommand"/>) inside its own activity.</summary>
    public void RunCommand(object command)
    {
        using var activity = PersistenceTelemetry.StartActivity("recall.command", runtime);
        activity?.SetTag("recall.command.type", command.GetType().Name);
        try
        {
            running.RunCommand(command);
        }
        catch (Exception exception)
        {
            PersistenceTelemetry.SetError(activity, exception);
            throw;
        }
    }

    /// <summary>Remembers when request number <paramref name="request"/> was sent and starts its persist activity (a child of the current one).</summary>
    public void Sent(long request, AtomicWrite[] writes)
    {
        Activity? activity = null;
        if (PersistenceTelemetry.Source.HasListeners())
        {
            var current = Activity.Current;
            activity = PersistenceTelemetry.StartActivity("recall.persist", runtime);
            if (activity is { IsAllDataRequested: true })
            {
                var events = 0;
                foreach (var write in writes)
                {
                    events += write.Events.Count;
                }

                activity.SetTag("recall.event_count", events);
                activity.SetTag("recall.sequence_number", writes[^1].Events[^1].SequenceNumber);
            }

            // The activity lasts until the store answers; the command goes on without it.
            Activity.Current = current;
        }

        var started = PersistenceTelemetry.PersistDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        if (started != 0 || activity is not null)
        {
            _traces.Enqueue(new RequestTrace(request, started, activity));
        }
    }

    /// <summary>Takes the trace of request number <paramref name="request"/>, if it has one (answers come in the order of the requests).</summary>
    public bool TryTake(long request, out RequestTrace trace)
    {
        if (_traces.TryPeek(out trace) && trace.Request == request)
        {
            _traces.Dequeue();
            return true;
        }

        return false;
    }

    /// <summary>Measures an answered request and handles it (<see cref="RunningPhase.HandleAnswered"/>) inside its persist activity, which then ends.</summary>
    public Exception? HandleAnswered(WriteRequest answered, RequestTrace trace)
    {
        if (trace.Started != 0)
        {
            PersistenceTelemetry.RecordDuration(PersistenceTelemetry.PersistDuration, trace.Started, runtime.Cell.System.Name, answered.Failure);
        }

        var activity = trace.Activity;
        var previous = Activity.Current;
        try
        {
            // The handlers run inside the persist activity, so what they do is traced as part of it.
            if (activity is not null)
            {
                Activity.Current = activity;
            }

            var failure = running.HandleAnswered(answered);
            if (failure is not null)
            {
                PersistenceTelemetry.SetError(activity, failure);
            }

            return failure;
        }
        catch (Exception exception)
        {
            PersistenceTelemetry.SetError(activity, exception);
            throw;
        }
        finally
        {
            activity?.Stop();
            Activity.Current = previous;
        }
    }

    /// <summary>The requests in flight will not be handled by this incarnation: their activities end, failed by <paramref name="cause"/> or by the stop.</summary>
    public void Abandon(Exception? cause)
    {
        while (_traces.TryDequeue(out var trace))
        {
            if (trace.Activity is { } activity)
            {
                PersistenceTelemetry.SetError(activity, cause ?? new OperationCanceledException("The actor stopped before the write was answered."));
                activity.Stop();
            }
        }
    }
}

/// <summary>
/// What <see cref="PersistTracing"/> keeps about one write request in flight: its number in the
/// incarnation, when it was sent (for <see cref="PersistenceTelemetry.PersistDuration"/>, 0 when not
/// measured) and its persist activity (null when not traced).
/// </summary>
internal readonly record struct RequestTrace(long Request, long Started, Activity? Activity);
