namespace Recall.Diagnostics;

/// <summary>
/// The names under which Recall publishes metrics (<see cref="System.Diagnostics.Metrics.Meter"/>)
/// and traces (<see cref="System.Diagnostics.ActivitySource"/>), and the tags it puts on them.
/// Subscribe with OpenTelemetry (<c>.AddMeter(RecallDiagnostics.ActorsMeterName)</c>,
/// <c>.AddSource(RecallDiagnostics.PersistenceActivitySourceName)</c>, or <c>"Recall.*"</c>) or with a
/// <see cref="System.Diagnostics.Metrics.MeterListener"/>. Nothing is measured while nobody listens.
/// docs/observability.md lists every instrument with its unit and tags.
/// </summary>
public static class RecallDiagnostics
{
    /// <summary>The meter of the actor kernel: mailbox depth and dead letters.</summary>
    public const string ActorsMeterName = "Recall.Actors";

    /// <summary>The meter of persistence: persist latency, journal batches and writes, replay and recovery.</summary>
    public const string PersistenceMeterName = "Recall.Persistence";

    /// <summary>The meter of read-model projections (Recall.Projections): events handled, lag and failures.</summary>
    public const string ProjectionsMeterName = "Recall.Projections";

    /// <summary>
    /// The activity source of the actor kernel: <c>recall.receive</c> (an actor handling a message
    /// told while an activity was current, locally or from another node) and <c>recall.ask</c>.
    /// </summary>
    public const string ActorsActivitySourceName = "Recall.Actors";

    /// <summary>Tag on actor activities: the path of the actor.</summary>
    public const string ActorPathTag = "recall.actor_path";

    /// <summary>Tag on actor activities: the type name of the message.</summary>
    public const string MessageTypeTag = "recall.message_type";

    /// <summary>The activity source of persistent actors: command handling, persisting and recovery.</summary>
    public const string PersistenceActivitySourceName = "Recall.Persistence";

    /// <summary>Tag on every measurement: the name of the actor system it comes from.</summary>
    public const string ActorSystemTag = "recall.actor_system";

    /// <summary>Tag on activities of a persistent actor: its persistence id (never on metrics, to keep their cardinality low).</summary>
    public const string PersistenceIdTag = "recall.persistence_id";

    /// <summary>Tag on measurements and activities of an operation that failed: the exception's type name (OpenTelemetry's convention).</summary>
    public const string ErrorTypeTag = "error.type";
}
