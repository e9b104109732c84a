namespace Recall.Persistence.Sharding;

/// <summary>Shard homes and remembered entities in memory, shared by the nodes of one process (tests, demos). Lost with the process.</summary>
public sealed class InMemoryShardStore : IShardStore
{
    private readonly Lock _gate = new();
    private readonly SortedDictionary<(string Type, string Shard), string> _homes = new(Comparer);
    private readonly SortedDictionary<(string Type, string Shard), SortedSet<string>> _entities = new(Comparer);

    private static IComparer<(string Type, string Shard)> Comparer { get; } =
        Comparer<(string Type, string Shard)>.Create((a, b) =>
        {
            var byType = string.CompareOrdinal(a.Type, b.Type);
            return byType != 0 ? byType : string.CompareOrdinal(a.Shard, b.Shard);
        });

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ShardHomeRecord>> ReadHomesAsync(string? typeName, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<ShardHomeRecord> homes = [.. _homes.Where(h => typeName is null || h.Key.Type == typeName).Select(h => new ShardHomeRecord(h.Key.Type, h.Key.Shard, h.Value))];
            return ValueTask.FromResult(homes);
        }
    }

    /// <inheritdoc />
    public ValueTask SetHomeAsync(string typeName, string shardId, string node, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        ArgumentException.ThrowIfNullOrEmpty(node);
        lock (_gate)
        {
            _homes[(typeName, shardId)] = node;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask RemoveHomesAsync(string typeName, IReadOnlyCollection<string> shardIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        lock (_gate)
        {
            foreach (var shardId in shardIds)
            {
                ShardArguments.Check(typeName, shardId);
                _homes.Remove((typeName, shardId));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> ReadEntitiesAsync(string typeName, string shardId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        lock (_gate)
        {
            IReadOnlyList<string> ids = _entities.TryGetValue((typeName, shardId), out var set) ? [.. set] : [];
            return ValueTask.FromResult(ids);
        }
    }

    /// <inheritdoc />
    public ValueTask AddEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        lock (_gate)
        {
            if (!_entities.TryGetValue((typeName, shardId), out var set))
            {
                _entities[(typeName, shardId)] = set = new SortedSet<string>(StringComparer.Ordinal);
            }

            set.Add(entityId);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask RemoveEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        lock (_gate)
        {
            if (_entities.TryGetValue((typeName, shardId), out var set) && set.Remove(entityId) && set.Count == 0)
            {
                _entities.Remove((typeName, shardId));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<ShardEntityCount>> CountEntitiesAsync(string? typeName, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<ShardEntityCount> counts = [.. _entities.Where(e => typeName is null || e.Key.Type == typeName).Select(e => new ShardEntityCount(e.Key.Type, e.Key.Shard, e.Value.Count))];
            return ValueTask.FromResult(counts);
        }
    }
}
