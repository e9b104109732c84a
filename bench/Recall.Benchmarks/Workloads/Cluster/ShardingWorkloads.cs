using System.Diagnostics;
using System.Globalization;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.Sharding;

namespace Recall.Benchmarks.Workloads.Cluster;

/// <summary>
/// <c>sharding-throughput</c>: three node processes host the sharded <see cref="ShardCounter"/>
/// (100 shards); this process's node sends through a proxy region to 10,000 entities, 1,000 asks
/// in flight, each a persisted event answered by the entity. Untimed: every entity is started and
/// its shard placed by one first command. Timed: 100,000 commands (scaled down by <c>--scale-down</c>);
/// <c>per_sec</c> is commands answered per second. Stores: <c>memory</c> (each node's journal in its
/// memory, the cluster's tables in a SQLite file), <c>sqlite</c> (one file for all), <c>postgres</c>. Opt-in.
/// </summary>
internal sealed class ShardingThroughput(BenchOptions options) : IWorkload
{
    private const int Entities = 10_000;
    private const int InFlight = 1_000;

    public string Name => "sharding-throughput";

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["memory", "sqlite", "postgres"];

    public long N => Math.Max(1, 100_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await using var cluster = await BenchCluster.StartAsync(context, Name, nodes: 3);
        var region = cluster.Driver.Sharding().StartProxy(ShardCounter.TypeName, new ShardCounterExtractor());
        var entities = Enumerable.Range(0, Math.Min(Entities, (int)N)).Select(i => "e" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var nodes = await SendAsync(region, entities.Length, i => entities[i]);
        context.Log($"{Name}: {entities.Length} entities started on {nodes.Count} nodes");

        var clock = Stopwatch.StartNew();
        await SendAsync(region, N, i => entities[i % entities.Length]);
        clock.Stop();
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["entities"] = entities.Length, ["nodes"] = 3, ["in_flight"] = InFlight });
    }

    /// <summary>Sends <paramref name="count"/> bumps with <see cref="InFlight"/> asks outstanding; returns the nodes that answered.</summary>
    private static async Task<HashSet<string>> SendAsync(IActorRef region, long count, Func<long, string> entity)
    {
        var nodes = new HashSet<string>(StringComparer.Ordinal);
        long next = -1;
        var workers = Enumerable.Range(0, InFlight).Select(async _ =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                var answer = await region.Ask<Bumped>(new Bump(entity(i)), TimeSpan.FromSeconds(60));
                lock (nodes)
                {
                    nodes.Add(answer.Node);
                }
            }
        });
        await Task.WhenAll(workers);
        return nodes;
    }
}

/// <summary>
/// <c>rebalance-time</c>: two node processes host the 100 shards of <see cref="ShardCounter"/>
/// (all placed by a first command to 1,000 entities); a third node joins, and the time runs until
/// the shard store shows it home to its fair share (33 shards) and every entity answers. With the
/// default settings (least-shards strategy, a tenth of the shards per round, a round every 2 s).
/// <c>extra</c> has <c>moved</c> (shards on the new node). Opt-in.
/// </summary>
internal sealed class RebalanceTime(BenchOptions options) : IWorkload
{
    public string Name => "rebalance-time";

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => Math.Max(1, 1_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await using var cluster = await BenchCluster.StartAsync(context, Name, nodes: 2);
        var region = cluster.Driver.Sharding().StartProxy(ShardCounter.TypeName, new ShardCounterExtractor());
        var entities = Enumerable.Range(0, (int)N).Select(i => "r" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        await Task.WhenAll(entities.Select(e => region.Ask<Bumped>(new Bump(e), TimeSpan.FromSeconds(60))));
        var store = cluster.Driver.Cluster().Options.Shards!;

        var clock = Stopwatch.StartNew();
        var joined = await cluster.StartNodeAsync();
        var moved = 0;
        while ((moved = (await store.ReadHomesAsync(ShardCounter.TypeName, CancellationToken.None)).Count(h => h.Node == joined)) < 33)
        {
            Check.That(clock.Elapsed < TimeSpan.FromMinutes(3), $"the joining node got {moved} of its 33 shards in 3 minutes");
            await Task.Delay(50);
        }

        await Task.WhenAll(entities.Select(e => region.Ask<Bumped>(new Bump(e), TimeSpan.FromSeconds(60))));
        clock.Stop();
        context.Log($"{Name}: {moved} shards moved to {joined} in {clock.Elapsed.TotalSeconds:F2} s");
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["moved"] = moved });
    }
}

/// <summary>
/// <c>shard-failover-time</c>: three node processes host <see cref="ShardCounter"/>; each round
/// asks entity <c>f0</c> where it runs, kills that node with SIGKILL and times until it answers
/// (with its history recovered) from another node; then starts a replacement node (untimed).
/// Default timing (DownAfter 5 s, 5 s leases). 10 rounds (scaled down by <c>--scale-down</c>);
/// <c>extra</c> has <c>p50_ms</c>, <c>max_ms</c>, <c>rounds</c>. Opt-in.
/// </summary>
internal sealed class ShardFailoverTime(BenchOptions options) : IWorkload
{
    public string Name => "shard-failover-time";

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => Math.Max(1, 10 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await using var cluster = await BenchCluster.StartAsync(context, Name, nodes: 3);
        var region = cluster.Driver.Sharding().StartProxy(ShardCounter.TypeName, new ShardCounterExtractor());
        var answer = await region.Ask<Bumped>(new Bump("f0"), TimeSpan.FromSeconds(60));
        var times = new List<double>();
        for (var round = 0; round < N; round++)
        {
            var victim = cluster.NodeAt(answer.Node);
            var clock = Stopwatch.StartNew();
            victim.Kill(entireProcessTree: true);
            var next = await AnswerElsewhereAsync(region, answer.Node);
            times.Add(clock.Elapsed.TotalMilliseconds);
            Check.That(next.Count == answer.Count + 1, $"f0 answered {next.Count} after {answer.Count}: its history was not recovered");
            context.Log($"{Name}: round {round + 1}: {answer.Node} killed, f0 answered from {next.Node} after {clock.Elapsed.TotalSeconds:F2} s");
            await victim.WaitForExitAsync();
            await cluster.StartNodeAsync();
            answer = next;
        }

        times.Sort();
        return new RunResult(
            TimeSpan.FromMilliseconds(times.Sum()),
            new Dictionary<string, double> { ["p50_ms"] = times[(times.Count - 1) / 2], ["max_ms"] = times[^1], ["rounds"] = times.Count });
    }

    private static async Task<Bumped> AnswerElsewhereAsync(IActorRef region, string notAt)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var answer = await region.Ask<Bumped>(new Bump("f0"), TimeSpan.FromMilliseconds(250));
                Check.That(answer.Node != notAt, $"f0 answered from {notAt}, which was killed");
                return answer;
            }
            catch (AskTimeoutException)
            {
                // not moved yet
            }

            Check.That(deadline.Elapsed < BenchCluster.Patience, $"f0 did not answer from a node other than {notAt} within {BenchCluster.Patience.TotalSeconds:F0} s");
        }
    }
}
