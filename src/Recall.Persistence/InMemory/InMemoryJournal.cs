using System.Runtime.CompilerServices;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.InMemory;

/// <summary>
/// A journal in process memory, for tests and benchmarks. By default it serializes every payload like
/// a real store (so unserializable events are rejected here too, and replay returns fresh objects);
/// with <paramref name="serialize"/> false it keeps the event objects themselves. It keeps nothing
/// across processes. It can be read as streams (<see cref="IReadJournalStore"/>); the persistence
/// ids query includes the ids of <paramref name="snapshots"/> when given.
/// </summary>
/// <param name="serialization">The manifest registry and serializer.</param>
/// <param name="snapshots">The snapshot store of the same system, whose persistence ids the read side lists too.</param>
/// <param name="serialize">
/// False keeps each event object as it was persisted instead of its bytes: faster, and replay returns
/// the same instances (so they had better be immutable). Event types must still be registered (the
/// manifest is looked up and returned on replay), but one that the serializer cannot handle is only
/// found out by a real store.
/// </param>
public sealed class InMemoryJournal(EventSerialization serialization, InMemorySnapshotStore? snapshots = null, bool serialize = true) : IJournal, IReadJournalStore, IFencingJournal
{
    private readonly Dictionary<string, History> _histories = new(StringComparer.Ordinal);
    private readonly List<StoredEvent> _all = [];
    private readonly Lock _gate = new();

    /// <inheritdoc />
    public WriteNotifier Writes { get; } = new();

    /// <inheritdoc />
    public ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        lock (_gate)
        {
            if (!_histories.TryGetValue(persistenceId, out var history))
            {
                _histories[persistenceId] = history = new History();
            }

            if (token < history.FencingToken)
            {
                return ValueTask.FromResult(false);
            }

            history.FencingToken = token;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);
        Exception?[]? results = null; // made at the first refusal: all stored is the usual case
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            SerializedPayload[]? payloads = null; // kept objects need no array: their manifests are looked up again below
            try
            {
                if (serialize)
                {
                    payloads = new SerializedPayload[write.Events.Count];
                    for (var j = 0; j < payloads.Length; j++)
                    {
                        payloads[j] = serialization.Serialize(write.Events[j].Payload);
                    }
                }
                else
                {
                    for (var j = 0; j < write.Events.Count; j++)
                    {
                        serialization.Registry.ManifestOf(write.Events[j].Payload.GetType()); // an unregistered type is refused all the same
                    }
                }
            }
            catch (Exception exception)
            {
                (results ??= new Exception?[writes.Count])[i] = exception;
                continue;
            }

            lock (_gate)
            {
                if (!_histories.TryGetValue(write.PersistenceId, out var history))
                {
                    _histories[write.PersistenceId] = history = new History();
                }

                if (write.FencingToken is { } token && token < history.FencingToken)
                {
                    (results ??= new Exception?[writes.Count])[i] = new FencedWriteException(write.PersistenceId, write.LowestSequenceNumber, token);
                    continue;
                }

                if (write.LowestSequenceNumber <= history.Highest)
                {
                    (results ??= new Exception?[writes.Count])[i] = new SequenceConflictException(write.PersistenceId, write.LowestSequenceNumber);
                    continue;
                }

                if (write.FencingToken is { } accepted)
                {
                    history.FencingToken = accepted;
                }

                for (var j = 0; j < write.Events.Count; j++)
                {
                    var repr = write.Events[j];
                    var payload = payloads?[j] ?? new SerializedPayload(serialization.Registry.ManifestOf(repr.Payload.GetType()), null!);
                    var stored = new StoredEvent(repr, payload, _all.Count + 1);
                    history.Events.Add(stored);
                    _all.Add(stored);
                }

                history.Highest = write.HighestSequenceNumber;
            }
        }

        Writes.Notify();
        return ValueTask.FromResult<IReadOnlyList<Exception?>>(results ?? WriteResults.AllStored(writes.Count));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<PersistentRepr> ReplayAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        StoredEvent[] selected;
        lock (_gate)
        {
            if (max <= 0 || fromSequenceNumber > toSequenceNumber || !_histories.TryGetValue(persistenceId, out var history))
            {
                yield break;
            }

            var from = Math.Max(fromSequenceNumber, history.DeletedTo + 1);
            var start = history.IndexOf(from);
            var found = new List<StoredEvent>();
            for (var i = start; i < history.Events.Count && found.Count < max; i++)
            {
                var stored = history.Events[i];
                if (stored.Repr.SequenceNumber > toSequenceNumber)
                {
                    break;
                }

                found.Add(stored);
            }

            selected = [.. found];
        }

        foreach (var stored in selected)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return Deserialize(stored);
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<Offset> ReadLatestOffsetAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(Offset.Sequence(_all.Count));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<OffsetEvent>> ReadEventsAsync(EventFilter filter, Offset after, Offset upTo, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var selected = new List<StoredEvent>();
        lock (_gate)
        {
            // Orderings are 1, 2, 3, ...: the event after ordering n is at index n.
            var last = Math.Min(_all.Count, upTo.Transaction > 0 ? long.MaxValue : upTo.Ordering);
            for (var i = after.Transaction > 0 ? last : after.Ordering; i < last && selected.Count < limit; i++)
            {
                var stored = _all[(int)i];
                if (stored.Repr.SequenceNumber > _histories[stored.Repr.PersistenceId].DeletedTo && filter.Matches(stored.Repr))
                {
                    selected.Add(stored);
                }
            }
        }

        var page = new OffsetEvent[selected.Count];
        for (var i = 0; i < page.Length; i++)
        {
            page[i] = new OffsetEvent(Offset.Sequence(selected[i].Ordering), Deserialize(selected[i]));
        }

        return ValueTask.FromResult<IReadOnlyList<OffsetEvent>>(page);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> ReadPersistenceIdsAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        lock (_gate)
        {
            ids.UnionWith(_histories.Keys);
        }

        if (snapshots is not null)
        {
            ids.UnionWith(snapshots.PersistenceIds());
        }

        IEnumerable<string> page = after is null ? ids : ids.Where(id => string.CompareOrdinal(id, after) > 0);
        return ValueTask.FromResult<IReadOnlyList<string>>([.. page.Take(limit)]);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<PersistenceIdAt>> ReadPersistenceIdsAsync(Offset after, int limit, CancellationToken cancellationToken)
    {
        var page = new List<PersistenceIdAt>();
        lock (_gate)
        {
            for (var i = after.Ordering; i < _all.Count && page.Count < limit; i++)
            {
                page.Add(new PersistenceIdAt(Offset.Sequence(i + 1), _all[(int)i].Repr.PersistenceId));
            }
        }

        return ValueTask.FromResult<IReadOnlyList<PersistenceIdAt>>(page);
    }

    private PersistentRepr Deserialize(StoredEvent stored)
    {
        if (stored.Payload.Data is null)
        {
            return stored.Repr with { Manifest = stored.Payload.Manifest }; // the object as it was persisted (serialize: false)
        }

        object payload;
        try
        {
            payload = serialization.Deserialize(stored.Payload.Manifest, stored.Payload.Data);
        }
        catch (Exception exception)
        {
            throw new EventReadException(stored.Repr.PersistenceId, stored.Repr.SequenceNumber, stored.Payload.Manifest, exception);
        }

        return stored.Repr with { Payload = payload, Manifest = stored.Payload.Manifest };
    }

    /// <inheritdoc />
    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_histories.TryGetValue(persistenceId, out var history) ? history.Highest : 0L);
        }
    }

    /// <inheritdoc />
    public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_histories.TryGetValue(persistenceId, out var history))
            {
                var to = Math.Min(toSequenceNumber, history.Highest);
                if (to > history.DeletedTo)
                {
                    history.Events.RemoveRange(0, history.IndexOf(to + 1));
                    history.DeletedTo = to;
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>An event as persisted, its manifest and bytes (null when the journal does not serialize), and its place in the whole journal.</summary>
    private sealed record StoredEvent(PersistentRepr Repr, SerializedPayload Payload, long Ordering);

    private sealed class History
    {
        public readonly List<StoredEvent> Events = [];
        public long Highest;
        public long DeletedTo;
        public long FencingToken = long.MinValue; // the highest token of an accepted fenced write

        /// <summary>The index of the first event with a sequence number at or above <paramref name="sequenceNumber"/>.</summary>
        public int IndexOf(long sequenceNumber)
        {
            int low = 0, high = Events.Count;
            while (low < high)
            {
                var middle = (low + high) >>> 1;
                if (Events[middle].Repr.SequenceNumber < sequenceNumber)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle;
                }
            }

            return low;
        }
    }
}
