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
/// its shard placed by one first command. Timed: 200,000 commands (scaled down by <c>--scale-down</c>);
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

    public long N => Math.Max(1, 200_000 / options.ScaleDown);

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
/// <c>rebalance-time</c>: three node processes host the 300 shards of <see cref="ShardCounter"/>,
/// each in use (one entity per shard, placed by a first command); a fourth node joins, and the time
/// runs until the shard store shows every node home to 75 shards and every entity answers. With the
/// default settings (least-shards strategy, a tenth of the shards per round, a round every 2 s).
/// Meanwhile every entity is asked again and again: <c>extra.p50_ms</c> and <c>max_ms</c> are the
/// longest wait of an entity's answer (its stall while its shard moved), over the entities;
/// <c>moved</c> the shards on the new node. Opt-in.
/// </summary>
internal sealed class RebalanceTime : IWorkload
{
    private const int Shards = 300;

    public string Name => "rebalance-time";

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => Shards;

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await using var cluster = await BenchCluster.StartAsync(context, Name, nodes: 3, shards: Shards);
        var region = cluster.Driver.Sharding().StartProxy(ShardCounter.TypeName, new ShardCounterExtractor(Shards));
        var entities = OnePerShard();
        await Task.WhenAll(entities.Select(e => region.Ask<Bumped>(new Bump(e), TimeSpan.FromSeconds(60))));
        var store = cluster.Driver.Cluster().Options.Shards!;

        using var stop = new CancellationTokenSource();
        var stalls = entities.Select(e => LongestWaitAsync(region, e, stop.Token)).ToList();
        var clock = Stopwatch.StartNew();
        var joined = await cluster.StartNodeAsync();
        var moved = 0;
        while (true)
        {
            var homes = (await store.ReadHomesAsync(ShardCounter.TypeName, CancellationToken.None)).GroupBy(h => h.Node).ToDictionary(g => g.Key, g => g.Count());
            moved = homes.GetValueOrDefault(joined);
            if (homes.Count == 4 && homes.Values.All(n => n == Shards / 4))
            {
                break;
            }

            Check.That(clock.Elapsed < TimeSpan.FromMinutes(5), $"the shards were not balanced over 4 nodes in 5 minutes ({string.Join(", ", homes.Values)})");
            await Task.Delay(50);
        }

        await Task.WhenAll(entities.Select(e => region.Ask<Bumped>(new Bump(e), TimeSpan.FromSeconds(60))));
        clock.Stop();
        await stop.CancelAsync();
        var waits = (await Task.WhenAll(stalls)).Order().ToList();
        context.Log($"{Name}: {moved} shards moved to {joined} in {clock.Elapsed.TotalSeconds:F2} s; longest wait of an entity {waits[^1]:F0} ms");
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["p50_ms"] = waits[(waits.Count - 1) / 2], ["max_ms"] = waits[^1], ["moved"] = moved });
    }

    /// <summary>An entity id in each of the shards.</summary>
    private static List<string> OnePerShard()
    {
        var byShard = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; byShard.Count < Shards; i++)
        {
            var id = "r" + i.ToString(CultureInfo.InvariantCulture);
            byShard.TryAdd(HashCodeMessageExtractor.ShardOf(id, Shards), id);
        }

        return [.. byShard.Values];
    }

    /// <summary>Asks the entity again and again until stopped; returns the longest time one answer took (asks of 250 ms, retried).</summary>
    private static async Task<double> LongestWaitAsync(IActorRef region, string entity, CancellationToken stop)
    {
        var longest = 0.0;
        while (!stop.IsCancellationRequested)
        {
            var asked = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    await region.Ask<Bumped>(new Bump(entity), TimeSpan.FromMilliseconds(250), CancellationToken.None);
                    break;
                }
                catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
                {
                    // moving: ask again
                }
            }

            longest = Math.Max(longest, asked.Elapsed.TotalMilliseconds);
            await Task.Delay(20, CancellationToken.None);
        }

        return longest;
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
            Check.That(next.Count > answer.Count, $"f0 answered {next.Count} after {answer.Count}: its history was not recovered"); // asks that timed out may land too
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
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
                // not moved yet
            }

            Check.That(deadline.Elapsed < BenchCluster.Patience, $"f0 did not answer from a node other than {notAt} within {BenchCluster.Patience.TotalSeconds:F0} s");
        }
    }
}
