using System.Collections.Concurrent;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Persistence.Journal;
using Recall.Persistence.InMemory;
using Recall.Persistence.Leases;
using Recall.Persistence.Serialization;
using Recall.Projections;
using Recall.TestKit;

namespace Recall.Cluster.Tests;

/// <summary>Sharded daemon processes: N workers kept running across the cluster, and projections over slice ranges on them.</summary>
[Collection(Timing.Collection)]
public sealed class DaemonProcessTests
{
    private static readonly TimeSpan AskTimeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));

    private static ShardingSettings Fast() => new() { RebalanceInterval = TimeSpan.FromMilliseconds(300), RetryInterval = TimeSpan.FromMilliseconds(200) };

    /// <summary>A worker that records where it runs.</summary>
    private sealed class Worker(int index, EntityLog log) : Actor
    {
        protected override void PreStart() => log.Add("start", "w" + index, Context.System.Address.ToString());

        protected override void PostStop() => log.Add("stop", "w" + index, Context.System.Address.ToString());

        protected override void Receive(object message)
        {
        }
    }

    private static IEnumerable<string> Running(EntityLog log, string node) =>
        log.Lines.Where(l => l.Node == node).GroupBy(l => l.Entity).Where(g => g.Count(l => l.Event == "start") > g.Count(l => l.Event == "stop")).Select(g => g.Key);

    [Fact]
    public async Task Every_worker_runs_once_somewhere_and_a_leaving_nodes_workers_run_again_elsewhere()
    {
        var log = new EntityLog();
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var first = await cluster.NodeAsync("d0");
        var second = await cluster.NodeAsync("d1");
        foreach (var node in new[] { first, second })
        {
            node.Sharding().StartDaemonProcess("workers", 4, i => Props.Create(() => new Worker(i, log)), Fast());
        }

        // Without any message, all four run, spread over both nodes by rebalance.
        await Wait.UntilAsync(() => Running(log, first.Address.ToString()).Count() + Running(log, second.Address.ToString()).Count() == 4 && Running(log, first.Address.ToString()).Any() && Running(log, second.Address.ToString()).Any(), "the 4 workers ran, on both nodes");
        var moving = Running(log, first.Address.ToString()).ToList();

        await first.Cluster().LeaveAsync();

        await Wait.UntilAsync(() => Running(log, second.Address.ToString()).Count() == 4, "the leaving node's workers ran on the other node");
        Assert.All(moving, w => Assert.Contains(log.Lines, l => l.Entity == w && l.Event == "start" && l.Node == second.Address.ToString()));
        log.AssertOneRunAtATime();
    }

    [Fact]
    public async Task Projections_over_slice_ranges_each_run_on_one_node_and_together_see_every_event()
    {
        var journal = new InMemoryJournal(new EventSerialization());
        var offsets = new InMemoryProjectionOffsetStore();
        var seen = new ConcurrentDictionary<string, int>();
        await using var cluster = new TestCluster(new InMemoryLeaseStore(), journal);
        var nodes = new List<ActorSystem>();
        for (var i = 0; i < 2; i++)
        {
            var node = await cluster.NodeAsync("p" + i, system: o => o.UseProjections());
            nodes.Add(node);
            node.Sharding().StartProjections("totals", 4, (min, max) => Projection.AtLeastOnce(
                "totals",
                ProjectionSource.EventsBySlices("item", min, max),
                offsets,
                (envelope, _) =>
                {
                    seen.AddOrUpdate(envelope.PersistenceId, 1, (_, n) => n + 1);
                    return Task.CompletedTask;
                }), Fast());
        }

        var ids = Enumerable.Range(0, 40).Select(i => "item|" + i).ToList();
        foreach (var id in ids)
        {
            await journal.WriteAsync([new AtomicWrite(new PersistentRepr(id, 1, "created"))], default);
        }

        await Wait.UntilAsync(() => ids.All(id => seen.ContainsKey(id)), "every event was projected");
        // One projection per range in the whole cluster (a range that moved was stopped where it was).
        await Wait.UntilAsync(() => nodes.Sum(n => n.Projections().Running.Count) == 4, "four projections ran in all");
        Assert.Equal(4, nodes.SelectMany(n => n.Projections().Running).Select(h => h.Id).Distinct().Count());
    }
}
