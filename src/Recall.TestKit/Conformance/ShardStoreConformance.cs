using Recall.Persistence.Sharding;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The contract of an <see cref="IShardStore"/>, as xunit tests: derive, create the store in
/// <c>CreateStore</c>, and every store passes the same tests. Stores of one test share one database,
/// as the nodes of a cluster do.
/// </summary>
public abstract class ShardStoreConformance : SharedStoreConformance<IShardStore>
{
    private readonly string _type = "t" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>S1: a home is written, moved, and read back by every node, ordered by type and shard, filtered by type.</summary>
    [Fact]
    public async Task S1_Homes_are_written_moved_and_read_by_every_node()
    {
        var coordinator = NewStore();
        var later = NewStore();
        await coordinator.SetHomeAsync(_type, "b", "recall://shop@10.0.0.1:7400", default);
        await coordinator.SetHomeAsync(_type, "a", "recall://shop@10.0.0.1:7400", default);
        await coordinator.SetHomeAsync(_type, "b", "recall://shop@10.0.0.2:7400", default);
        await coordinator.SetHomeAsync(_type + "-other", "a", "recall://shop@10.0.0.3:7400", default);

        Assert.Equal(
            [new ShardHomeRecord(_type, "a", "recall://shop@10.0.0.1:7400"), new ShardHomeRecord(_type, "b", "recall://shop@10.0.0.2:7400")],
            await later.ReadHomesAsync(_type, default));
        var all = (await later.ReadHomesAsync(null, default)).Where(h => h.TypeName.StartsWith(_type, StringComparison.Ordinal)).ToList();
        Assert.Equal([(_type, "a"), (_type, "b"), (_type + "-other", "a")], all.Select(h => (h.TypeName, h.ShardId)));
    }

    /// <summary>S2: forgetting homes removes only those named (absent ones are no error).</summary>
    [Fact]
    public async Task S2_Forgetting_homes_removes_only_those_named()
    {
        var store = NewStore();
        foreach (var shard in new[] { "1", "2", "3" })
        {
            await store.SetHomeAsync(_type, shard, "recall://shop@10.0.0.1:7400", default);
        }

        await store.RemoveHomesAsync(_type, ["1", "3", "never-allocated"], default);

        Assert.Equal(["2"], (await store.ReadHomesAsync(_type, default)).Select(h => h.ShardId));
        await store.RemoveHomesAsync(_type, [], default);
        Assert.Single(await store.ReadHomesAsync(_type, default));
    }

    /// <summary>S3: a shard remembers entities once each, forgets them, and counts them per shard.</summary>
    [Fact]
    public async Task S3_Entities_are_remembered_once_forgotten_and_counted_per_shard()
    {
        var store = NewStore();
        var other = NewStore();
        await store.AddEntityAsync(_type, "1", "bob", default);
        await store.AddEntityAsync(_type, "1", "alice", default);
        await store.AddEntityAsync(_type, "1", "alice", default);
        await store.AddEntityAsync(_type, "2", "carol", default);

        Assert.Equal(["alice", "bob"], await other.ReadEntitiesAsync(_type, "1", default));
        Assert.Equal([new ShardEntityCount(_type, "1", 2), new ShardEntityCount(_type, "2", 1)], await other.CountEntitiesAsync(_type, default));

        await store.RemoveEntityAsync(_type, "1", "alice", default);
        await store.RemoveEntityAsync(_type, "2", "carol", default);
        await store.RemoveEntityAsync(_type, "2", "never-there", default);

        Assert.Equal(["bob"], await other.ReadEntitiesAsync(_type, "1", default));
        Assert.Empty(await other.ReadEntitiesAsync(_type, "2", default));
        Assert.Equal([new ShardEntityCount(_type, "1", 1)], await other.CountEntitiesAsync(_type, default));
        Assert.Contains(new ShardEntityCount(_type, "1", 1), await other.CountEntitiesAsync(null, default));
    }

    /// <summary>S4: an empty shard or entity id is refused with an error that names the type.</summary>
    [Fact]
    public async Task S4_Empty_ids_are_refused_naming_the_type()
    {
        var store = NewStore();
        var shard = await Assert.ThrowsAsync<ArgumentException>(async () => await store.SetHomeAsync(_type, "", "recall://shop@10.0.0.1:7400", default));
        Assert.Contains(_type, shard.Message, StringComparison.Ordinal);
        var entity = await Assert.ThrowsAsync<ArgumentException>(async () => await store.AddEntityAsync(_type, "1", "", default));
        Assert.Contains(_type, entity.Message, StringComparison.Ordinal);
        Assert.Empty(await store.ReadHomesAsync(_type, default));
    }
}
