using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence.InMemory;

/// <summary>A snapshot store in process memory, for tests and benchmarks; it serializes like a real store.</summary>
public sealed class InMemorySnapshotStore(EventSerialization serialization) : ISnapshotStore
{
    private readonly Dictionary<string, SortedList<long, (SnapshotMetadata Metadata, SerializedPayload Payload)>> _snapshots = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>The persistence ids that have at least one snapshot.</summary>
    internal IReadOnlyList<string> PersistenceIds()
    {
        lock (_gate)
        {
            return [.. _snapshots.Where(entry => entry.Value.Count > 0).Select(entry => entry.Key)];
        }
    }

    /// <inheritdoc />
    public ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        (SnapshotMetadata Metadata, SerializedPayload Payload)? found = null;
        lock (_gate)
        {
            if (_snapshots.TryGetValue(persistenceId, out var list))
            {
                for (var i = list.Count - 1; i >= 0; i--)
                {
                    if (criteria.Matches(list.Values[i].Metadata))
                    {
                        found = list.Values[i];
                        break;
                    }
                }
            }
        }

        if (found is not { } snapshot)
        {
            return ValueTask.FromResult<SelectedSnapshot?>(null);
        }

        object state;
        try
        {
            state = serialization.Deserialize(snapshot.Payload.Manifest, snapshot.Payload.Data);
        }
        catch (Exception exception)
        {
            throw new SnapshotLoadException(snapshot.Metadata, snapshot.Payload.Manifest, exception);
        }

        return ValueTask.FromResult<SelectedSnapshot?>(new SelectedSnapshot(snapshot.Metadata, state));
    }

    /// <inheritdoc />
    public ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var payload = serialization.Serialize(snapshot);
        lock (_gate)
        {
            if (!_snapshots.TryGetValue(metadata.PersistenceId, out var list))
            {
                _snapshots[metadata.PersistenceId] = list = [];
            }

            list[metadata.SequenceNumber] = (metadata, payload);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        lock (_gate)
        {
            if (_snapshots.TryGetValue(metadata.PersistenceId, out var list)
                && list.TryGetValue(metadata.SequenceNumber, out var stored)
                && (metadata.Timestamp == default || stored.Metadata.Timestamp <= metadata.Timestamp))
            {
                list.Remove(metadata.SequenceNumber);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(criteria);
        lock (_gate)
        {
            if (_snapshots.TryGetValue(persistenceId, out var list))
            {
                foreach (var key in list.Where(p => criteria.Matches(p.Value.Metadata)).Select(p => p.Key).ToArray())
                {
                    list.Remove(key);
                }
            }
        }

        return ValueTask.CompletedTask;
    }
}
