namespace Recall.Persistence.Query;

/// <summary>One event as a read-side stream delivers it.</summary>
/// <param name="Offset">
/// Where the event is in the stream: the global offset for streams by tag and by slices (resume
/// after it with <c>from: envelope.Offset</c>), the sequence number for streams by persistence id.
/// </param>
/// <param name="PersistenceId">Whose event it is.</param>
/// <param name="SequenceNumber">Its place in that history.</param>
/// <param name="Event">The event, deserialized and passed through the read adapters (so it is the domain event).</param>
/// <param name="Timestamp">When it was persisted, in UTC.</param>
/// <param name="Tags">Its tags.</param>
public sealed record EventEnvelope(
    Offset Offset,
    string PersistenceId,
    long SequenceNumber,
    object Event,
    DateTimeOffset Timestamp,
    IReadOnlyList<string> Tags);
