using System.Diagnostics;

namespace Recall.Persistence.Journal;

/// <summary>
/// One stored event: its place in a persistence id's history, the payload, and what the store
/// keeps beside it. On write, <see cref="Payload"/> is the event as the actor persisted it (after
/// event adapters) and <see cref="Manifest"/> is empty: the store serializes the payload and
/// records the manifest. On replay, the store returns the deserialized payload and its manifest.
/// </summary>
[DebuggerDisplay("{PersistenceId,nq} #{SequenceNumber} {Manifest,nq}")]
public sealed record PersistentRepr
{
    /// <summary>Creates a stored event.</summary>
    public PersistentRepr(string persistenceId, long sequenceNumber, object payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequenceNumber);
        ArgumentNullException.ThrowIfNull(payload);
        PersistenceId = persistenceId;
        SequenceNumber = sequenceNumber;
        Payload = payload;
    }

    /// <summary>Whose event this is.</summary>
    public string PersistenceId { get; init; }

    /// <summary>Its position in that history, from 1, without gaps except where events were rejected.</summary>
    public long SequenceNumber { get; init; }

    /// <summary>The event.</summary>
    public object Payload { get; init; }

    /// <summary>The stable name of the payload's stored form, e.g. <c>wallet.balance-changed.v1</c>.</summary>
    public string Manifest { get; init; } = "";

    /// <summary>The id of the actor incarnation that wrote the event; replay uses it to detect two writers.</summary>
    public string WriterId { get; init; } = "";

    /// <summary>When the event was persisted, in UTC.</summary>
    public DateTimeOffset Timestamp { get; init; }

    /// <summary>Tags for reading events by tag across persistence ids.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];
}

/// <summary>
/// Events that are stored together or not at all. Their sequence numbers are consecutive and
/// all belong to one persistence id.
/// </summary>
public sealed class AtomicWrite
{
    /// <summary>Creates an atomic write of one or more events of one persistence id.</summary>
    /// <exception cref="ArgumentException">The list is empty, or mixes persistence ids, or its sequence numbers are not consecutive.</exception>
    public AtomicWrite(IReadOnlyList<PersistentRepr> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            throw new ArgumentException("An atomic write needs at least one event.", nameof(events));
        }

        var first = events[0];
        for (var i = 1; i < events.Count; i++)
        {
            if (events[i].PersistenceId != first.PersistenceId)
            {
                throw new ArgumentException($"An atomic write mixes persistence ids '{first.PersistenceId}' and '{events[i].PersistenceId}'.", nameof(events));
            }

            if (events[i].SequenceNumber != first.SequenceNumber + i)
            {
                throw new ArgumentException($"An atomic write of '{first.PersistenceId}' has sequence number {events[i].SequenceNumber} where {first.SequenceNumber + i} was expected.", nameof(events));
            }
        }

        Events = events;
    }

    /// <summary>Creates an atomic write of one event.</summary>
    public AtomicWrite(PersistentRepr @event)
        : this([@event])
    {
    }

    /// <summary>The events, in sequence order.</summary>
    public IReadOnlyList<PersistentRepr> Events { get; }

    /// <summary>
    /// The fencing token of the lease that made the writer the owner of the persistence id, or null
    /// for an unfenced write. The journal refuses the write with a <see cref="FencedWriteException"/>,
    /// in the write's own transaction, when it has seen a higher token for this persistence id; it
    /// remembers the highest token it accepted. Unfenced writes are not checked.
    /// </summary>
    public long? FencingToken { get; init; }

    /// <summary>The persistence id all events belong to.</summary>
    public string PersistenceId => Events[0].PersistenceId;

    /// <summary>The lowest sequence number.</summary>
    public long LowestSequenceNumber => Events[0].SequenceNumber;

    /// <summary>The highest sequence number.</summary>
    public long HighestSequenceNumber => Events[^1].SequenceNumber;
}
