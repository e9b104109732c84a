namespace Recall.Persistence.Query;

/// <summary>
/// Reads the journal as streams, for the read side (CQRS): views, projections, exports. Reach the
/// read journal of a system with <c>system.Persistence().ReadJournal</c>, or build one over a store
/// with <see cref="ReadJournal"/>.
/// </summary>
/// <remarks>
/// <para><b>Finite and live.</b> With <c>live: false</c> a stream delivers what is stored when it
/// starts and ends. With <c>live: true</c> it never ends: after the stored events it delivers new
/// ones as they are written, woken at once by writes of this process (and by the store's push where
/// it has one), otherwise after the poll interval of <see cref="ReadJournalOptions"/>.</para>
/// <para><b>Back-pressure.</b> Streams pull pages from the store as the consumer asks for more, so
/// a slow consumer never makes a writer wait and nothing piles up in memory. Any number of
/// consumers may read the same stream; merge streams with ordinary <c>IAsyncEnumerable</c> code.</para>
/// <para><b>Order.</b> By persistence id: sequence order. By tag and by slices: the global offset
/// order, which never skips an event that commits late under concurrent writers.</para>
/// <para><b>Cancellation.</b> Cancelling the token ends the enumeration with an
/// <see cref="OperationCanceledException"/>.</para>
/// </remarks>
public interface IReadJournal
{
    /// <summary>
    /// The events of <paramref name="persistenceId"/> with sequence numbers from
    /// <paramref name="fromSequenceNumber"/> to <paramref name="toSequenceNumber"/> (both inclusive).
    /// The envelopes' offsets are the sequence numbers. A live stream ends once it delivered
    /// <paramref name="toSequenceNumber"/>.
    /// </summary>
    IAsyncEnumerable<EventEnvelope> EventsByPersistenceId(string persistenceId, long fromSequenceNumber, long toSequenceNumber, bool live, CancellationToken cancellationToken = default);

    /// <summary>The events tagged <paramref name="tag"/> after <paramref name="from"/>, across persistence ids, in global order.</summary>
    IAsyncEnumerable<EventEnvelope> EventsByTag(string tag, Offset from, bool live, CancellationToken cancellationToken = default);

    /// <summary>
    /// The events after <paramref name="from"/> of the persistence ids of <paramref name="entityType"/>
    /// whose slice (see <see cref="Slices"/>) is between <paramref name="minSlice"/> and
    /// <paramref name="maxSlice"/> (both inclusive), in global order. Several consumers split the
    /// slices between them to share the work without choosing tags up front.
    /// </summary>
    IAsyncEnumerable<EventEnvelope> EventsBySlices(string entityType, int minSlice, int maxSlice, Offset from, bool live, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every persistence id once: those with events (stored or deleted) and those with only
    /// snapshots. A live stream goes on with new ids as their first event is written.
    /// </summary>
    IAsyncEnumerable<string> PersistenceIds(bool live, CancellationToken cancellationToken = default);
}
