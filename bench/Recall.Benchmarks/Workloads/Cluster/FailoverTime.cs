using System.Diagnostics;
using Recall.Actors;
using Recall.Cluster;

namespace Recall.Benchmarks.Workloads.Cluster;

/// <summary>
/// <c>failover-time</c>: three node processes on 127.0.0.1 (<see cref="ClusterNode"/>) share a
/// SQLite file or a PostgreSQL schema for members and leases, with the cluster's default timing.
/// Each round asks the singleton <c>probe</c> (through a proxy on this process's node) where it
/// runs, kills that node with SIGKILL, and times until the singleton answers from another node;
/// then it starts a replacement node (untimed). 10 rounds per run (scaled down by
/// <c>--scale-down</c>); <c>extra</c> has <c>p50_ms</c>, <c>max_ms</c> and <c>rounds</c>; the
/// run's time is the sum of the rounds' failover times. Opt-in.
/// </summary>
internal sealed class FailoverTime(BenchOptions options) : IWorkload
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public string Name => "failover-time";

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => Math.Max(1, 10 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await using var cluster = await BenchCluster.StartAsync(context, Name, nodes: 3);
        var proxy = cluster.Driver.Cluster().StartSingletonProxy("probe");
        var holder = await WhereAsync(proxy, notAt: null);
        var times = new List<double>();
        for (var round = 0; round < N; round++)
        {
            var victim = cluster.NodeAt(holder);
            var clock = Stopwatch.StartNew();
            victim.Kill(entireProcessTree: true);
            var now = await WhereAsync(proxy, notAt: holder);
            times.Add(clock.Elapsed.TotalMilliseconds);
            context.Log($"failover-time: round {round + 1}: {holder} killed, singleton on {now} after {clock.Elapsed.TotalSeconds:F2} s");
            await victim.WaitForExitAsync();
            await cluster.StartNodeAsync(); // the cluster has three nodes again (untimed)
            holder = now;
        }

        times.Sort();
        return new RunResult(
            TimeSpan.FromMilliseconds(times.Sum()),
            new Dictionary<string, double> { ["p50_ms"] = times[(times.Count - 1) / 2], ["max_ms"] = times[^1], ["rounds"] = times.Count });
    }

    private static async Task<string> WhereAsync(IActorRef proxy, string? notAt)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var here = await proxy.Ask<HereNow>(new WhereNow(), TimeSpan.FromMilliseconds(250));
                if (here.Node != notAt)
                {
                    return here.Node;
                }
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
                // not moved yet
            }

            Check.That(deadline.Elapsed < Patience, $"the singleton did not answer from a node other than {notAt ?? "none"} within {Patience.TotalSeconds:F0} s");
            await Task.Delay(10);
        }
    }
}
