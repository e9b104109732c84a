using System.Runtime.CompilerServices;

namespace Recall.Persistence.Tests.Support;

/// <summary>
/// Serialized events and snapshots shared by several actor systems, each reading and writing
/// through its own serialization (its own manifest registry) — like two versions of an
/// application over one database. The in-memory stores cannot show this: each deserializes with
/// the registry it was created with, whichever system uses it.
/// </summary>
public sealed class SharedDatabase
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(PersistentRepr Repr, SerializedPayload Payload)>> _events = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _highest = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedList<long, (SnapshotMetadata Metadata, SerializedPayload Payload)>> _snapshots = new(StringComparer.Ordinal);

    public IJournal Journal(EventSerialization serialization) => new SharedJournal(this, serialization);

    public ISnapshotStore SnapshotStore(EventSerialization serialization) => new SharedSnapshotStore(this, serialization);

    private sealed class SharedJournal(SharedDatabase db, EventSerialization serialization) : IJournal
    {
        public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
        {
            var results = new Exception?[writes.Count];
            for (var i = 0; i < writes.Count; i++)
            {
                List<(PersistentRepr, SerializedPayload)> rows;
                try
                {
                    rows = [.. writes[i].Events.Select(e => (e, serialization.Serialize(e.Payload)))];
                }
                catch (Exception exception)
                {
                    results[i] = exception;
                    continue;
                }

                lock (db._gate)
                {
                    var id = writes[i].PersistenceId;
                    if (writes[i].LowestSequenceNumber <= db._highest.GetValueOrDefault(id))
                    {
                        results[i] = new SequenceConflictException(id, writes[i].LowestSequenceNumber);
                        continue;
                    }

                    if (!db._events.TryGetValue(id, out var list))
                    {
                        db._events[id] = list = [];
                    }

                    list.AddRange(rows);
                    db._highest[id] = writes[i].HighestSequenceNumber;
                }
            }

            return ValueTask.FromResult<IReadOnlyList<Exception?>>(results);
        }

        public async IAsyncEnumerable<PersistentRepr> ReplayAsync(
            string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            (PersistentRepr Repr, SerializedPayload Payload)[] rows;
            lock (db._gate)
            {
                rows = db._events.TryGetValue(persistenceId, out var list)
                    ? [.. list.Where(r => r.Repr.SequenceNumber >= fromSequenceNumber && r.Repr.SequenceNumber <= toSequenceNumber).Take((int)Math.Min(max, int.MaxValue))]
                    : [];
            }

            foreach (var (repr, payload) in rows)
            {
                object value;
                try
                {
                    value = serialization.Deserialize(payload.Manifest, payload.Data);
                }
                catch (Exception exception)
                {
                    throw new EventReadException(persistenceId, repr.SequenceNumber, payload.Manifest, exception);
                }

                yield return repr with { Payload = value, Manifest = payload.Manifest };
            }

            await Task.CompletedTask;
        }

        public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
        {
            lock (db._gate)
            {
                return ValueTask.FromResult(db._highest.GetValueOrDefault(persistenceId));
            }
        }

        public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
        {
            lock (db._gate)
            {
                db._events.GetValueOrDefault(persistenceId)?.RemoveAll(r => r.Repr.SequenceNumber <= toSequenceNumber);
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class SharedSnapshotStore(SharedDatabase db, EventSerialization serialization) : ISnapshotStore
    {
        public ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
        {
            (SnapshotMetadata Metadata, SerializedPayload Payload)? found = null;
            lock (db._gate)
            {
                if (db._snapshots.TryGetValue(persistenceId, out var list))
                {
                    for (var i = list.Count - 1; i >= 0 && found is null; i--)
                    {
                        if (criteria.Matches(list.Values[i].Metadata))
                        {
                            found = list.Values[i];
                        }
                    }
                }
            }

            if (found is not { } snapshot)
            {
                return ValueTask.FromResult<SelectedSnapshot?>(null);
            }

            try
            {
                return ValueTask.FromResult<SelectedSnapshot?>(new SelectedSnapshot(snapshot.Metadata, serialization.Deserialize(snapshot.Payload.Manifest, snapshot.Payload.Data)));
            }
            catch (Exception exception)
            {
                throw new SnapshotLoadException(snapshot.Metadata, snapshot.Payload.Manifest, exception);
            }
        }

        public ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
        {
            var payload = serialization.Serialize(snapshot);
            lock (db._gate)
            {
                if (!db._snapshots.TryGetValue(metadata.PersistenceId, out var list))
                {
                    db._snapshots[metadata.PersistenceId] = list = [];
                }

                list[metadata.SequenceNumber] = (metadata, payload);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
        {
            lock (db._gate)
            {
                db._snapshots.GetValueOrDefault(metadata.PersistenceId)?.Remove(metadata.SequenceNumber);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
        {
            lock (db._gate)
            {
                if (db._snapshots.TryGetValue(persistenceId, out var list))
                {
                    foreach (var key in list.Where(s => criteria.Matches(s.Value.Metadata)).Select(s => s.Key).ToArray())
                    {
                        list.Remove(key);
                    }
                }
            }

            return ValueTask.CompletedTask;
        }
    }
}
