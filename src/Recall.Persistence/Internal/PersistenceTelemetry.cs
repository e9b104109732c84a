using System.Diagnostics;
using System.Diagnostics.Metrics;
using Recall.Diagnostics;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// The instruments of the <see cref="RecallDiagnostics.PersistenceMeterName"/> meter and the
/// activity source of persistent actors. Callers check <see cref="Instrument.Enabled"/> or
/// <see cref="ActivitySource.HasListeners"/> first, so with nobody listening a persist costs a few
/// field reads more and allocates nothing.
/// </summary>
internal static class PersistenceTelemetry
{
    public static readonly ActivitySource Source = new(RecallDiagnostics.PersistenceActivitySourceName);

    private static readonly Meter s_meter = new(RecallDiagnostics.PersistenceMeterName);

    // Seconds, from a tenth of a millisecond (an in-memory store) to ten seconds (the default journal call timeout).
    private static readonly double[] s_durationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    public static readonly Histogram<double> PersistDuration = s_meter.CreateHistogram(
        "recall.persistence.persist.duration",
        unit: "s",
        description: "From a command's write request to the journal until its event handlers run (one measurement per command that persisted).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });

    public static readonly Histogram<double> WriteDuration = s_meter.CreateHistogram(
        "recall.persistence.journal.write.duration",
        unit: "s",
        description: "How long the journal took to store one batch (IJournal.WriteAsync).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });

    public static readonly Histogram<int> BatchSize = s_meter.CreateHistogram(
        "recall.persistence.journal.batch.size",
        unit: "{event}",
        description: "Events in one batch the journal front hands to the journal (group commit).",
        tags: null,
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] });

    public static readonly Counter<long> EventsWritten = s_meter.CreateCounter<long>(
        "recall.persistence.events.written",
        unit: "{event}",
        description: "Events the journal stored.");

    public static readonly Counter<long> EventsReplayed = s_meter.CreateCounter<long>(
        "recall.persistence.events.replayed",
        unit: "{event}",
        description: "Events read back from the journal by recoveries.");

    public static readonly Histogram<double> RecoveryDuration = s_meter.CreateHistogram(
        "recall.persistence.recovery.duration",
        unit: "s",
        description: "From the start of a persistent actor until its recovery completed or failed, waiting for a recovery permit included.",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });

    /// <summary>Whether a write request is measured or traced (<see cref="PersistTracing"/>).</summary>
    public static bool IsPersistObserved => PersistDuration.Enabled || Source.HasListeners();

    public static KeyValuePair<string, object?> SystemTag(string systemName) => new(RecallDiagnostics.ActorSystemTag, systemName);

    public static KeyValuePair<string, object?> ErrorTag(Exception exception) => new(RecallDiagnostics.ErrorTypeTag, exception.GetType().FullName);

    /// <summary>Records a duration that started at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public static void RecordDuration(Histogram<double> histogram, long started, string systemName, Exception? failure)
    {
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (failure is null)
        {
            histogram.Record(seconds, SystemTag(systemName));
        }
        else
        {
            histogram.Record(seconds, SystemTag(systemName), ErrorTag(failure));
        }
    }

    /// <summary>Marks <paramref name="activity"/> as failed by <paramref name="failure"/>.</summary>
    public static void SetError(Activity? activity, Exception failure)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Message);
            activity.SetTag(RecallDiagnostics.ErrorTypeTag, failure.GetType().FullName);
        }
    }

    /// <summary>Starts an activity of <paramref name="runtime"/>'s actor, a child of the current one, or returns null when nobody listens.</summary>
    public static Activity? StartActivity(string name, EventSourcedRuntime runtime)
    {
        var activity = Source.StartActivity(name, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RecallDiagnostics.PersistenceIdTag, runtime.PersistenceId);
            activity.SetTag(RecallDiagnostics.ActorSystemTag, runtime.Cell.System.Name);
        }

        return activity;
    }

    /// <summary>Counts the events of the atomic writes the journal stored (a null result).</summary>
    public static int CountStored(IEnumerable<AtomicWrite> writes, IReadOnlyList<Exception?> results)
    {
        var stored = 0;
        var index = 0;
        foreach (var write in writes)
        {
            if (results[index++] is null)
            {
                stored += write.Events.Count;
            }
        }

        return stored;
    }
}
