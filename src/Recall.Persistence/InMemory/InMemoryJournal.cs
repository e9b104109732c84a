using System.Runtime.CompilerServices;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.InMemory;

/// <summary>
/// A journal in process memory, for tests and benchmarks. It serializes every payload like a real
/// store (so unserializable events are rejected here too, and replay returns fresh objects) and
/// keeps nothing across processes.
/// </summary>
public sealed class InMemoryJournal(EventSerialization serialization) : IJournal
{
    private readonly Dictionary<string, History> _histories = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var results = new Exception?[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            StoredEvent[] serialized;
            try
            {
                serialized = new StoredEvent[write.Events.Count];
                for (var j = 0; j < serialized.Length; j++)
                {
                    var repr = write.Events[j];
                    serialized[j] = new StoredEvent(repr, serialization.Serialize(repr.Payload));
                }
            }
            catch (Exception exception)
            {
                results[i] = exception;
                continue;
            }

            lock (_gate)
            {
                if (!_histories.TryGetValue(write.PersistenceId, out var history))
                {
                    _histories[write.PersistenceId] = history = new History();
                }

                if (write.LowestSequenceNumber <= history.Highest)
                {
                    results[i] = new SequenceConflictException(write.PersistenceId, write.LowestSequenceNumber);
                    continue;
                }

                history.Events.AddRange(serialized);
                history.Highest = write.HighestSequenceNumber;
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Exception?>>(results);
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
            object payload;
            try
            {
                payload = serialization.Deserialize(stored.Payload.Manifest, stored.Payload.Data);
            }
            catch (Exception exception)
            {
                throw new EventReadException(persistenceId, stored.Repr.SequenceNumber, stored.Payload.Manifest, exception);
            }

            yield return stored.Repr with { Payload = payload, Manifest = stored.Payload.Manifest };
        }

        await Task.CompletedTask;
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

    private sealed record StoredEvent(PersistentRepr Repr, SerializedPayload Payload);

    private sealed class History
    {
        public readonly List<StoredEvent> Events = [];
        public long Highest;
        public long DeletedTo;

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
