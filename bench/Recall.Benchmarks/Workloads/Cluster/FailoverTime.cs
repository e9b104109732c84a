using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;
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
        await using var cluster = await BenchCluster.StartAsync(context);
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
            catch (AskTimeoutException)
            {
                // not moved yet
            }

            Check.That(deadline.Elapsed < Patience, $"the singleton did not answer from a node other than {notAt ?? "none"} within {Patience.TotalSeconds:F0} s");
            await Task.Delay(10);
        }
    }

    /// <summary>The node processes and this process's node (a member that only sends), on one fresh store.</summary>
    private sealed class BenchCluster : IAsyncDisposable
    {
        private readonly Dictionary<string, Process> _nodes = new(StringComparer.Ordinal);
        private readonly RunContext _context;
        private readonly ClusterStore _store;
        private readonly string? _folder;
        private IAsyncDisposable[] _driverStores = [];

        private BenchCluster(RunContext context, ClusterStore store, string? folder)
        {
            _context = context;
            _store = store;
            _folder = folder;
        }

        public ActorSystem Driver { get; private set; } = null!;

        public static async Task<BenchCluster> StartAsync(RunContext context)
        {
            BenchCluster cluster;
            if (context.Store == "postgres")
            {
                var connection = context.Options.Postgres ?? throw new BenchCheckException("the postgres store needs --postgres CONNSTR or RECALL_BENCH_POSTGRES");
                cluster = new BenchCluster(context, new ClusterStore("postgres", connection, "bench_" + Guid.NewGuid().ToString("N")[..12]), null);
            }
            else
            {
                var folder = Directory.CreateTempSubdirectory("recall-bench-").FullName;
                cluster = new BenchCluster(context, new ClusterStore("sqlite", Path.Combine(folder, "cluster.db"), null), folder);
            }

            try
            {
                for (var i = 0; i < 3; i++)
                {
                    await cluster.StartNodeAsync();
                }

                cluster.Driver = context.CreateSystem(o => o.UseCluster(c => cluster._driverStores = cluster._store.Use(c.Listen("127.0.0.1", 0))));
                await cluster.Driver.Cluster().JoinAsync();
                return cluster;
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }

        public Process NodeAt(string address) =>
            _nodes.TryGetValue(address, out var process) ? process : throw new BenchCheckException($"the singleton runs on {address}, which is none of the node processes");

        public async Task StartNodeAsync()
        {
            var start = new ProcessStartInfo(Remote.RemoteSession.DotnetHost()) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { typeof(FailoverTime).Assembly.Location, "--role", "cluster-node", "--port", FreePort().ToString(CultureInfo.InvariantCulture) }.Concat(_store.Arguments()))
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start) ?? throw new BenchCheckException("a node process did not start");
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Patience);
            if (line is null || !line.StartsWith(ClusterNode.Ready + " ", StringComparison.Ordinal))
            {
                process.Kill(entireProcessTree: true);
                throw new BenchCheckException($"a node said '{line}' instead of {ClusterNode.Ready}: {await process.StandardError.ReadToEndAsync()}");
            }

            _nodes[line[(ClusterNode.Ready.Length + 1)..].Trim()] = process;
        }

        public async ValueTask DisposeAsync()
        {
            if (Driver is not null)
            {
                await Driver.TerminateAsync();
            }

            foreach (var disposable in _driverStores)
            {
                await disposable.DisposeAsync();
            }

            foreach (var process in _nodes.Values)
            {
                if (!process.HasExited)
                {
                    await process.StandardInput.WriteLineAsync("quit");
                    try
                    {
                        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
                    }
                    catch (TimeoutException)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }

                process.Dispose();
            }

            if (_store.Schema is { } schema)
            {
                await using var connection = new NpgsqlConnection(_store.Target);
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
                await drop.ExecuteNonQueryAsync();
            }

            if (_folder is not null)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                Directory.Delete(_folder, recursive: true);
            }

            _context.Log($"failover-time: {_nodes.Count} node processes stopped");
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
