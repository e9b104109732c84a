using System.Runtime.CompilerServices;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Query;

/// <summary>Settings of the read journal's streams.</summary>
public sealed class ReadJournalOptions
{
    /// <summary>
    /// How often a live stream asks the store for new events when nothing woke it. Writes of this
    /// process (and PostgreSQL's notifications) wake live streams at once; polling finds the
    /// writes of other processes. Default 1 s.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many events a stream reads from the store at a time. Default 500.</summary>
    public int PageSize { get; set; } = 500;

    internal void Validate()
    {
        if (PollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PollInterval), PollInterval, "ReadJournalOptions.PollInterval must be positive.");
        }

        if (PageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(PageSize), PageSize, "ReadJournalOptions.PageSize must be positive.");
        }
    }
}

/// <summary>
/// The <see cref="IReadJournal"/> of any store that implements <see cref="IReadJournalStore"/>:
/// streams built from pages the consumer pulls, live streams that wait for the store's write
/// signal or the poll interval, and the system's read adapters applied to every event.
/// </summary>
/// <remarks>
/// A stored event that a read adapter turns into several domain events gives several envelopes
/// with the same offset and sequence number; one it turns into none gives no envelope.
/// </remarks>
public sealed class ReadJournal : IReadJournal
{
    private readonly IReadJournalStore _store;
    private readonly EventAdapters _adapters;
    private readonly ReadJournalOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Reads <paramref name="store"/>.</summary>
    /// <param name="store">The journal to read.</param>
    /// <param name="adapters">Read adapters to apply to every event (the writing system's <c>PersistenceOptions.Adapters</c>); none by default.</param>
    /// <param name="options">Poll interval and page size; defaults otherwise.</param>
    /// <param name="timeProvider">The clock of the poll interval; the system clock by default.</param>
    public ReadJournal(IReadJournalStore store, EventAdapters? adapters = null, ReadJournalOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _adapters = adapters ?? new EventAdapters();
        _options = options ?? new ReadJournalOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<EventEnvelope> EventsByPersistenceId(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, bool live, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        var next = Math.Max(1, fromSequenceNumber);
        var to = toSequenceNumber;
        if (!live)
        {
            to = Math.Min(to, await _store.ReadHighestSequenceNumberAsync(persistenceId, 0, cancellationToken).ConfigureAwait(false));
        }

        var page = new List<PersistentRepr>(Math.Min(_options.PageSize, 64));
        while (next <= to)
        {
            var written = live ? _store.Writes.NextWrite : null;
            page.Clear();
            await foreach (var repr in _store.ReplayAsync(persistenceId, next, to, _options.PageSize, cancellationToken).ConfigureAwait(false))
            {
                page.Add(repr);
            }

            foreach (var repr in page)
            {
                next = repr.SequenceNumber + 1;
                foreach (var envelope in Envelopes(Offset.Sequence(repr.SequenceNumber), repr))
                {
                    yield return envelope;
                }
            }

            if (page.Count < _options.PageSize)
            {
                if (written is null)
                {
                    yield break;
                }

                await WaitAsync(written, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<EventEnvelope> EventsByTag(string tag, Offset from, bool live, CancellationToken cancellationToken = default) =>
        Events(EventFilter.ByTag(tag), from, live, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<EventEnvelope> EventsBySlices(string entityType, int minSlice, int maxSlice, Offset from, bool live, CancellationToken cancellationToken = default) =>
        Events(EventFilter.BySlices(entityType, minSlice, maxSlice), from, live, cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<string> PersistenceIds(bool live, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Where the live part starts is read before the listing, so an id that appears while the
        // listing runs is found by one or the other (and the set below delivers it once).
        var offset = live ? await _store.ReadLatestOffsetAsync(cancellationToken).ConfigureAwait(false) : Offset.Start;
        HashSet<string>? seen = live ? new(StringComparer.Ordinal) : null;
        string? after = null;
        while (true)
        {
            var ids = await _store.ReadPersistenceIdsAsync(after, _options.PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var id in ids)
            {
                after = id;
                if (seen is null || seen.Add(id))
                {
                    yield return id;
                }
            }

            if (ids.Count < _options.PageSize)
            {
                break;
            }
        }

        if (seen is null)
        {
            yield break;
        }

        while (true)
        {
            var written = _store.Writes.NextWrite;
            var page = await _store.ReadPersistenceIdsAsync(offset, _options.PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var (at, id) in page)
            {
                offset = at;
                if (seen.Add(id))
                {
                    yield return id;
                }
            }

            if (page.Count < _options.PageSize)
            {
                await WaitAsync(written, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async IAsyncEnumerable<EventEnvelope> Events(EventFilter filter, Offset from, bool live, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var upTo = live ? new Offset(long.MaxValue, long.MaxValue) : await _store.ReadLatestOffsetAsync(cancellationToken).ConfigureAwait(false);
        var after = from;
        while (live || after < upTo)
        {
            var written = live ? _store.Writes.NextWrite : null;
            var page = await _store.ReadEventsAsync(filter, after, upTo, _options.PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var (offset, repr) in page)
            {
                after = offset;
                foreach (var envelope in Envelopes(offset, repr))
                {
                    yield return envelope;
                }
            }

            if (page.Count < _options.PageSize)
            {
                if (written is null)
                {
                    yield break;
                }

                await WaitAsync(written, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private IEnumerable<EventEnvelope> Envelopes(Offset offset, PersistentRepr repr)
    {
        if (_adapters.IsEmpty)
        {
            yield return new EventEnvelope(offset, repr.PersistenceId, repr.SequenceNumber, repr.Payload, repr.Timestamp, repr.Tags);
            yield break;
        }

        foreach (var @event in _adapters.FromJournal(repr.Payload, repr.Manifest))
        {
            yield return new EventEnvelope(offset, repr.PersistenceId, repr.SequenceNumber, @event, repr.Timestamp, repr.Tags);
        }
    }

    private async Task WaitAsync(Task written, CancellationToken cancellationToken)
    {
        try
        {
            await written.WaitAsync(_options.PollInterval, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Time to poll: the store may hold writes of other processes.
        }
    }
}
