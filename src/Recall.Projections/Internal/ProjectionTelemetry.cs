using System.Diagnostics;
using System.Diagnostics.Metrics;
using Recall.Diagnostics;

namespace Recall.Projections.Internal;

/// <summary>
/// The instruments of the <see cref="RecallDiagnostics.ProjectionsMeterName"/> meter, measured once
/// per handled batch (never per event) and only while somebody listens.
/// </summary>
internal static class ProjectionTelemetry
{
    /// <summary>Tag on every measurement: the projection's name.</summary>
    public const string ProjectionTag = "recall.projection";

    /// <summary>Tag on every measurement: the key of the projection's source (tag or slice range).</summary>
    public const string KeyTag = "recall.projection.key";

    private static readonly Meter s_meter = new(RecallDiagnostics.ProjectionsMeterName);

    public static readonly Histogram<double> Lag = s_meter.CreateHistogram(
        "recall.projection.lag",
        unit: "s",
        description: "When a batch is handled: how long ago its newest event was persisted (how far the read model is behind the writes).",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600] });

    public static readonly Counter<long> EventsHandled = s_meter.CreateCounter<long>(
        "recall.projection.events.handled",
        unit: "{event}",
        description: "Envelopes a projection's handler processed and whose offset was stored.");

    public static readonly Counter<long> Failures = s_meter.CreateCounter<long>(
        "recall.projection.failures",
        unit: "{failure}",
        description: "Handler or stream failures (error.type: the handler's own exception type); each is followed by a restart with backoff.");

    public static void Handled(ProjectionId id, int events, TimeSpan lag)
    {
        if (EventsHandled.Enabled)
        {
            EventsHandled.Add(events, Tags(id));
        }

        if (Lag.Enabled)
        {
            Lag.Record(Math.Max(0, lag.TotalSeconds), Tags(id));
        }
    }

    public static void Failed(ProjectionId id, Exception exception)
    {
        if (Failures.Enabled)
        {
            var tags = Tags(id);
            var cause = exception is ProjectionHandlerException { InnerException: { } inner } ? inner : exception;
            tags.Add(RecallDiagnostics.ErrorTypeTag, cause.GetType().Name);
            Failures.Add(1, tags);
        }
    }

    private static TagList Tags(ProjectionId id) => new() { { ProjectionTag, id.Name }, { KeyTag, id.Key } };
}
