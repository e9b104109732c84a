using Recall.Actors;
using Recall.Cluster.Sharding;

namespace Recall.Cluster.Tests;

/// <summary>The extractor's stable hash and the allocation strategies, as pure functions.</summary>
public sealed class AllocationTests
{
    private static readonly Address A = new("shop", "10.0.0.1", 7400);
    private static readonly Address B = new("shop", "10.0.0.2", 7400);
    private static readonly Address C = new("shop", "10.0.0.3", 7400);
    private static readonly Address D = new("shop", "10.0.0.4", 7400);

    private static Dictionary<Address, IReadOnlyList<string>> Regions(params (Address Node, int From, int Count)[] regions) =>
        regions.ToDictionary(r => r.Node, r => (IReadOnlyList<string>)[.. Enumerable.Range(r.From, r.Count).Select(i => i.ToString("D3", System.Globalization.CultureInfo.InvariantCulture))]);

    [Theory]
    [InlineData("alice", "78")]
    [InlineData("bob", "30")]
    [InlineData("ünïcode", "80")]
    public void The_shard_of_an_entity_is_the_mixed_fnv1a_of_its_utf8_bytes_on_every_node_and_run(string entityId, string shard) =>
        Assert.Equal(shard, HashCodeMessageExtractor.ShardOf(entityId, 100));

    [Fact]
    public void The_default_extractor_reads_envelopes_and_refuses_messages_without_an_entity()
    {
        var extractor = new HashCodeMessageExtractor(10);
        var envelope = new ShardingEnvelope("alice", 42);
        Assert.Equal(("alice", "8", (object)42), (extractor.EntityId(envelope), extractor.ShardId(envelope), extractor.Unwrap(envelope)));
        Assert.Null(extractor.EntityId("loose"));
        Assert.Throws<ArgumentException>(() => extractor.ShardId("loose"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HashCodeMessageExtractor(0));
    }

    [Fact]
    public void Least_shards_allocates_to_the_node_with_fewest()
    {
        var strategy = new LeastShardAllocationStrategy();
        Assert.Equal(B, strategy.Allocate("new", A, Regions((A, 0, 3), (B, 3, 1), (C, 4, 2))));
    }

    [Fact]
    public void Least_shards_moves_from_nodes_above_the_fair_share_within_its_limits_and_not_while_a_move_runs()
    {
        var strategy = new LeastShardAllocationStrategy(relativeLimit: 0.1, absoluteLimit: 20);

        // 40 shards on A and B, a new node C: the fair share is 14 (rounded up); 10 % of 40 may move per round.
        var joined = Regions((A, 0, 20), (B, 20, 20), (C, 0, 0));
        var moves = strategy.Rebalance(joined, []);
        Assert.Equal(4, moves.Count);
        Assert.All(moves, shard => Assert.True(joined[A].Contains(shard) || joined[B].Contains(shard)));
        Assert.Empty(strategy.Rebalance(joined, ["000"]));

        // Balanced within one: nothing moves.
        Assert.Empty(strategy.Rebalance(Regions((A, 0, 14), (B, 14, 13), (C, 27, 13)), []));

        // At most the ceiling everywhere, but one node below the floor: take from those above it.
        var generous = new LeastShardAllocationStrategy(relativeLimit: 1.0);
        var belowFloor = Regions((A, 0, 3), (B, 3, 3), (C, 6, 3), (D, 9, 1));
        Assert.Contains(Assert.Single(generous.Rebalance(belowFloor, [])), belowFloor[A].Concat(belowFloor[B]).Concat(belowFloor[C]));

        // The absolute limit caps a round.
        Assert.Single(new LeastShardAllocationStrategy(relativeLimit: 1.0, absoluteLimit: 1).Rebalance(Regions((A, 0, 30), (B, 30, 0)), []));
    }

    [Fact]
    public void Consistent_hashing_places_a_shard_the_same_way_everywhere_and_a_new_node_takes_only_shards_it_owns()
    {
        var strategy = new ConsistentHashingAllocationStrategy(absoluteLimit: 1000);
        var shards = Enumerable.Range(0, 200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var two = new Dictionary<Address, IReadOnlyList<string>> { [A] = [], [B] = [] };
        var placed = shards.GroupBy(s => strategy.Allocate(s, C, two)).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)[.. g]);
        Assert.Equal(placed, shards.GroupBy(s => new ConsistentHashingAllocationStrategy(absoluteLimit: 1000).Allocate(s, A, two)).ToDictionary(g => g.Key, g => (IReadOnlyList<string>)[.. g]));
        Assert.Empty(strategy.Rebalance(placed, []));

        placed[C] = [];
        var moves = strategy.Rebalance(placed, []);
        var three = new Dictionary<Address, IReadOnlyList<string>> { [A] = [], [B] = [], [C] = [] };
        Assert.InRange(moves.Count, 30, 110); // about a third moves, all of it to C
        Assert.All(moves, shard => Assert.Equal(C, strategy.Allocate(shard, A, three)));
    }
}
