using Recall.Actors;

namespace Recall.Cluster.Sharding;

/// <summary>
/// Decides where shards live. The coordinator calls it with every region that hosts the type (by
/// node address, each with the shards it has now, empty lists included) and asks it to place a new
/// shard and, every <see cref="ShardingSettings.RebalanceInterval"/>, which shards to move.
/// Implementations must be deterministic functions of their arguments.
/// </summary>
public interface IShardAllocationStrategy
{
    /// <summary>The node that gets the new shard <paramref name="shardId"/>; one of <paramref name="current"/>'s keys.</summary>
    Address Allocate(string shardId, Address requester, IReadOnlyDictionary<Address, IReadOnlyList<string>> current);

    /// <summary>The shards to hand over now (each is then allocated again with <see cref="Allocate"/>); <paramref name="inProgress"/> are moving already.</summary>
    IReadOnlyList<string> Rebalance(IReadOnlyDictionary<Address, IReadOnlyList<string>> current, IReadOnlyCollection<string> inProgress);
}

/// <summary>
/// The default: a new shard goes to the node with the fewest; a rebalance moves shards from nodes
/// above the fair share (total ÷ nodes, rounded up) to the others, at most
/// <c>max(1, min(absoluteLimit, relativeLimit × total))</c> at once, and starts only when no move
/// is in progress. A joining node fills up over a few rounds; a leaving node's shards are handed
/// over by the coordinator regardless of these limits.
/// </summary>
/// <param name="relativeLimit">The share of all shards one round may move. Default 0.1.</param>
/// <param name="absoluteLimit">The most shards one round may move. Default 20.</param>
public sealed class LeastShardAllocationStrategy(double relativeLimit = 0.1, int absoluteLimit = 20) : IShardAllocationStrategy
{
    /// <inheritdoc />
    public Address Allocate(string shardId, Address requester, IReadOnlyDictionary<Address, IReadOnlyList<string>> current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return Ordered(current).MinBy(r => r.Value.Count).Key;
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Rebalance(IReadOnlyDictionary<Address, IReadOnlyList<string>> current, IReadOnlyCollection<string> inProgress)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(inProgress);
        if (inProgress.Count > 0 || current.Count < 2)
        {
            return [];
        }

        var total = current.Values.Sum(s => s.Count);
        var floor = total / current.Count;
        var ceiling = total % current.Count == 0 ? floor : floor + 1;
        var limit = Math.Max(1, Math.Min(absoluteLimit, (int)(relativeLimit * total)));
        var regions = Ordered(current).OrderByDescending(r => r.Value.Count).ToList();

        // Above the ceiling: always too many.
        var moves = regions.SelectMany(r => r.Value.Order(StringComparer.Ordinal).Skip(ceiling)).ToList();
        if (moves.Count == 0)
        {
            // Every node at most at the ceiling, some below the floor: take from those above the floor.
            var deficit = regions.Sum(r => Math.Max(0, floor - r.Value.Count));
            moves = [.. regions.SelectMany(r => r.Value.Order(StringComparer.Ordinal).Skip(floor)).Take(deficit)];
        }

        return [.. moves.Take(limit)];
    }

    private static IEnumerable<KeyValuePair<Address, IReadOnlyList<string>>> Ordered(IReadOnlyDictionary<Address, IReadOnlyList<string>> current) =>
        current.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal);
}

/// <summary>
/// Consistent hashing: each node owns the arcs of a hash ring before its <paramref name="virtualNodes"/>
/// points, and a shard lives on the owner of its hash. A node that joins or leaves moves only the
/// shards of the arcs it gains or loses; at most <paramref name="absoluteLimit"/> per round.
/// </summary>
/// <param name="virtualNodes">Points per node on the ring. Default 100.</param>
/// <param name="absoluteLimit">The most shards one round may move. Default 20.</param>
public sealed class ConsistentHashingAllocationStrategy(int virtualNodes = 100, int absoluteLimit = 20) : IShardAllocationStrategy
{
    /// <inheritdoc />
    public Address Allocate(string shardId, Address requester, IReadOnlyDictionary<Address, IReadOnlyList<string>> current)
    {
        ArgumentNullException.ThrowIfNull(current);
        return Owner(Ring(current.Keys), shardId);
    }

    /// <inheritdoc />
    public IReadOnlyList<string> Rebalance(IReadOnlyDictionary<Address, IReadOnlyList<string>> current, IReadOnlyCollection<string> inProgress)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(inProgress);
        if (inProgress.Count > 0 || current.Count < 2)
        {
            return [];
        }

        var ring = Ring(current.Keys);
        return [.. current
            .OrderBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .SelectMany(r => r.Value.Order(StringComparer.Ordinal).Where(shard => !Owner(ring, shard).Equals(r.Key)))
            .Take(Math.Max(1, absoluteLimit))];
    }

    private (uint Point, Address Node)[] Ring(IEnumerable<Address> nodes) =>
        [.. nodes
            .SelectMany(node => Enumerable.Range(0, Math.Max(1, virtualNodes)).Select(i => (Point: HashCodeMessageExtractor.StableHash($"{node}#{i}"), Node: node)))
            .OrderBy(p => p.Point)
            .ThenBy(p => p.Node.ToString(), StringComparer.Ordinal)];

    private static Address Owner((uint Point, Address Node)[] ring, string shardId)
    {
        var hash = HashCodeMessageExtractor.StableHash(shardId);
        foreach (var (point, node) in ring)
        {
            if (point >= hash)
            {
                return node;
            }
        }

        return ring[0].Node;
    }
}
