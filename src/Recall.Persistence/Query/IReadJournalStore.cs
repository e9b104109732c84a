using Recall.Persistence.Journal;

namespace Recall.Persistence.Query;

/// <summary>
/// The read side of a store: what <see cref="ReadJournal"/> reads as streams, with finite, paged
/// reads in the global order and a signal when events were written. Users read through
/// <see cref="IReadJournal"/>; store authors implement this and pass the query checklist of
/// <c>Recall.TestKit.Conformance.QueryConformance</c>.
/// </summary>
/// <remarks>
/// <para><b>Apart from the journal.</b> A store may read in a class of its own (the SQLite and
/// PostgreSQL stores do: a process that only reads opens only the reader), or one class may be
/// both the <see cref="IJournal"/> and this (the in-memory journal): <see cref="ReplayAsync"/> and
/// <see cref="ReadHighestSequenceNumberAsync"/> mean the same on both. A system reads the store
/// that <c>PersistenceOptions.UseReadJournalStore</c> names, else its journal when that implements
/// this interface.</para>
/// <para><b>Final events only.</b> A page contains only events whose place in the global order is
/// final: no event that commits later may get an offset at or below one already returned. Stores
/// whose commits are serialized (SQLite, in-memory) get this for free; PostgreSQL returns only
/// events of transactions older than every transaction still running.</para>
/// </remarks>
public interface IReadJournalStore
{
    /// <summary>Notified after every write of this process that stored events, and on the store's push where it has one.</summary>
    WriteNotifier Writes { get; }

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

    /// <summary>The offset of the newest final event, <see cref="Offset.Start"/> for an empty journal.</summary>
    ValueTask<Offset> ReadLatestOffsetAsync(CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="limit"/> final events matching <paramref name="filter"/> with offsets
    /// after <paramref name="after"/> and not after <paramref name="upTo"/>, in offset order, with
    /// deserialized payloads (an unreadable one throws <see cref="EventReadException"/>). Deleted
    /// events are not returned.
    /// </summary>
    ValueTask<IReadOnlyList<OffsetEvent>> ReadEventsAsync(EventFilter filter, Offset after, Offset upTo, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="limit"/> persistence ids that have events (stored or deleted) or
    /// snapshots, each once, in the store's order of ids, starting after <paramref name="after"/>
    /// (null: from the first).
    /// </summary>
    ValueTask<IReadOnlyList<string>> ReadPersistenceIdsAsync(string? after, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// The persistence ids of the final events after <paramref name="after"/>, at most
    /// <paramref name="limit"/> events' worth, in offset order (an id may repeat), with the offset
    /// of each: how a live <see cref="IReadJournal.PersistenceIds"/> stream finds new ids.
    /// </summary>
    ValueTask<IReadOnlyList<PersistenceIdAt>> ReadPersistenceIdsAsync(Offset after, int limit, CancellationToken cancellationToken);
}

/// <summary>A stored event and its offset in the global order.</summary>
/// <param name="Offset">Its place in the global order.</param>
/// <param name="Event">The event with its deserialized payload.</param>
public readonly record struct OffsetEvent(Offset Offset, PersistentRepr Event);

/// <summary>The persistence id of the event at an offset.</summary>
/// <param name="Offset">The event's place in the global order.</param>
/// <param name="PersistenceId">Whose event it is.</param>
public readonly record struct PersistenceIdAt(Offset Offset, string PersistenceId);

/// <summary>Which events a page of <see cref="IReadJournalStore.ReadEventsAsync"/> contains: those with a tag, or those of a slice range of an entity type.</summary>
public sealed record EventFilter
{
    private EventFilter(string? tag, string? entityType, int minSlice, int maxSlice)
    {
        Tag = tag;
        EntityType = entityType;
        MinSlice = minSlice;
        MaxSlice = maxSlice;
    }

    /// <summary>The tag the events carry, or null when filtering by slices.</summary>
    public string? Tag { get; }

    /// <summary>The entity type of the events' persistence ids (see <see cref="Slices.EntityTypeOf"/>), or null when filtering by tag.</summary>
    public string? EntityType { get; }

    /// <summary>The lowest slice, inclusive.</summary>
    public int MinSlice { get; }

    /// <summary>The highest slice, inclusive.</summary>
    public int MaxSlice { get; }

    /// <summary>The events tagged <paramref name="tag"/>.</summary>
    public static EventFilter ByTag(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        return new EventFilter(tag, null, 0, Slices.Count - 1);
    }

    /// <summary>The events of <paramref name="entityType"/> in slices <paramref name="minSlice"/> to <paramref name="maxSlice"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within 0 to 1,023 or is empty.</exception>
    public static EventFilter BySlices(string entityType, int minSlice, int maxSlice)
    {
        ArgumentNullException.ThrowIfNull(entityType);
        if (minSlice < 0 || maxSlice >= Slices.Count || minSlice > maxSlice)
        {
            throw new ArgumentOutOfRangeException(nameof(minSlice), $"Slice range {minSlice}..{maxSlice} is not within 0..{Slices.Count - 1} (minimum first).");
        }

        return new EventFilter(null, entityType, minSlice, maxSlice);
    }

    /// <summary>Whether <paramref name="event"/> passes the filter (for stores that filter in memory).</summary>
    public bool Matches(PersistentRepr @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        if (Tag is not null)
        {
            foreach (var tag in @event.Tags)
            {
                if (string.Equals(tag, Tag, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        }

        if (!string.Equals(Slices.EntityTypeOf(@event.PersistenceId), EntityType, StringComparison.Ordinal))
        {
            return false;
        }

        var slice = Slices.Of(@event.PersistenceId);
        return slice >= MinSlice && slice <= MaxSlice;
    }
}

/// <summary>
/// A signal that events were written: live streams take <see cref="NextWrite"/> before they read
/// and wait for it (or their poll interval) when they found nothing new, so a write between the
/// read and the wait is never missed. Costs nothing while nobody waits.
/// </summary>
public sealed class WriteNotifier
{
    private TaskCompletionSource? _next;

    /// <summary>A task that completes at the next <see cref="Notify"/>.</summary>
    public Task NextWrite
    {
        get
        {
            var next = Volatile.Read(ref _next);
            if (next is not null)
            {
                return next.Task;
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return (Interlocked.CompareExchange(ref _next, created, null) ?? created).Task;
        }
    }

    /// <summary>Wakes everyone waiting for <see cref="NextWrite"/>.</summary>
    public void Notify()
    {
        if (Volatile.Read(ref _next) is not null)
        {
            Interlocked.Exchange(ref _next, null)?.TrySetResult();
        }
    }
}
