namespace Recall.Persistence.Journal;

/// <summary>
/// An append-only store of events, the storage half of persistence. Implementations are called
/// by the runtime's journal front, which batches writes from many actors.
/// </summary>
/// <remarks>
/// <para><b>Write.</b> <see cref="WriteAsync"/> receives a batch only for throughput: each
/// <see cref="AtomicWrite"/> succeeds or fails on its own, all its events stored or none. The
/// result has one entry per atomic write, in order: null when stored; a
/// <see cref="SequenceConflictException"/> when a (persistence id, sequence number) already exists
/// (the writer fails and stops: two writers must never interleave); any other exception when the
/// write was <i>rejected</i> (for example the payload cannot be serialized or is too large): the
/// events are not stored and the actor keeps running. A thrown exception (or a faulted task) means
/// the store failed (I/O, connection): nothing of the batch may be assumed stored, every writer
/// fails and stops. A successful result means every stored event is durable.</para>
/// <para><b>Order.</b> Calls for the same persistence id never overlap: the front waits for one
/// write to finish before it sends the next batch.</para>
/// <para><b>Highest sequence number.</b> Never decreases, not even when events are deleted.</para>
/// <para><b>Ownership.</b> The store may keep the <see cref="PersistentRepr"/> instances it is given;
/// the caller does not change them afterwards.</para>
/// </remarks>
public interface IJournal
{
    /// <summary>Stores the atomic writes; see the type's remarks for results, rejection and failure.</summary>
    ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken);

    /// <summary>
    /// The stored events of <paramref name="persistenceId"/> with sequence numbers from
    /// <paramref name="fromSequenceNumber"/> to <paramref name="toSequenceNumber"/> (both inclusive),
    /// in order, at most <paramref name="max"/> of them. Deleted events are not returned.
    /// </summary>
    IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken);

    /// <summary>
    /// The highest sequence number ever stored for <paramref name="persistenceId"/> (0 if none),
    /// including deleted events; <paramref name="fromSequenceNumber"/> is a hint where to start looking.
    /// </summary>
    ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken);

    /// <summary>Deletes the events up to and including <paramref name="toSequenceNumber"/>; the highest sequence number is kept.</summary>
    ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken);
}

/// <summary>
/// A journal that can raise a persistence id's fencing token without writing an event. A new owner
/// does it before it replays, so that from then on no write of an older owner can land, not even
/// before the new owner's first event (the journals of this library implement it; without it the
/// fence rises with the new owner's first write).
/// </summary>
public interface IFencingJournal
{
    /// <summary>
    /// Raises the highest accepted fencing token of <paramref name="persistenceId"/> to
    /// <paramref name="token"/> in one transaction; false (and nothing changed) when a higher
    /// token is already stored, that is, when this owner is stale.
    /// </summary>
    ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken);
}

/// <summary>
/// A write the journal refused because another writer of the persistence id is, or was, active.
/// The writer fails and stops (its state may be behind the store's) instead of interleaving its
/// history with the other's; the runtime treats every subclass so.
/// </summary>
public abstract class WriterConflictException(string message, string persistenceId, Exception? inner)
    : Exception(message, inner)
{
    /// <summary>The persistence id of the refused write.</summary>
    public string PersistenceId { get; } = persistenceId;
}

/// <summary>
/// An append would overwrite an existing (persistence id, sequence number): another writer got
/// there first. The writer fails and stops instead of interleaving its history with the other's.
/// </summary>
public sealed class SequenceConflictException(string persistenceId, long sequenceNumber, Exception? inner = null)
    : WriterConflictException($"Event {sequenceNumber} of '{persistenceId}' already exists: another writer of '{persistenceId}' is active, or was.", persistenceId, inner)
{

    /// <summary>The sequence number that already existed.</summary>
    public long SequenceNumber { get; } = sequenceNumber;
}

/// <summary>
/// A stored event cannot be read back (unknown manifest, payload that no longer deserializes).
/// Stores throw it from replay; recovery reports it with the persistence id, sequence number and manifest.
/// </summary>
public sealed class EventReadException(string persistenceId, long sequenceNumber, string manifest, Exception inner)
    : Exception($"Event {sequenceNumber} of '{persistenceId}' (manifest '{manifest}') cannot be read: {inner.Message}", inner)
{
    /// <summary>Whose event.</summary>
    public string PersistenceId { get; } = persistenceId;

    /// <summary>Which event.</summary>
    public long SequenceNumber { get; } = sequenceNumber;

    /// <summary>Its stored manifest.</summary>
    public string Manifest { get; } = manifest;
}

/// <summary>
/// A fenced write (<see cref="AtomicWrite.FencingToken"/>) whose token is older than the newest
/// the journal has seen for its persistence id: a newer owner (a singleton or shard that took over
/// after a pause, partition or failover) has written since. Nothing of the write is stored; the
/// stale writer fails and stops.
/// </summary>
public sealed class FencedWriteException(string persistenceId, long sequenceNumber, long token)
    : WriterConflictException(
        $"The write of event {sequenceNumber} of '{persistenceId}' carries fencing token {token}, and a newer owner of '{persistenceId}' wrote with a higher one: this writer lost its lease and must not append.",
        persistenceId,
        null)
{
    /// <summary>The first sequence number of the refused write.</summary>
    public long SequenceNumber { get; } = sequenceNumber;

    /// <summary>The stale token.</summary>
    public long Token { get; } = token;
}
