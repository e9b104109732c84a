using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Recall.Actors;
using Recall.Cluster;

namespace Recall.Benchmarks.Workloads.Cluster;

/// <summary>The node processes of a cluster workload (<see cref="ClusterNode"/>) and this process's node (a member that only sends), on one fresh store.</summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    /// <summary>How long a node may take to start.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, Process> _nodes = new(StringComparer.Ordinal);
    private readonly RunContext _context;
    private readonly ClusterStore _store;
    private readonly string? _folder;
    private IAsyncDisposable[] _driverStores = [];
    private int _shards = ShardCounterExtractor.DefaultShards;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _warnings = new();

    private readonly string _workload;

    private BenchCluster(RunContext context, ClusterStore store, string? folder, string workload)
    {
        _context = context;
        _store = store;
        _folder = folder;
        _workload = workload;
    }

    public ActorSystem Driver { get; private set; } = null!;

    /// <summary>Starts <paramref name="nodes"/> node processes whose sharded counter has <paramref name="shards"/> shards, and the driver.</summary>
    public static async Task<BenchCluster> StartAsync(RunContext context, string workload, int nodes, int shards = ShardCounterExtractor.DefaultShards)
    {
        BenchCluster cluster;
        if (context.Store == "postgres")
        {
            var connection = context.Options.Postgres ?? throw new BenchCheckException("the postgres store needs --postgres CONNSTR or RECALL_BENCH_POSTGRES");
            cluster = new BenchCluster(context, new ClusterStore("postgres", connection, "bench_" + Guid.NewGuid().ToString("N")[..12]), null, workload);
        }
        else
        {
            var folder = Directory.CreateTempSubdirectory("recall-bench-").FullName;
            cluster = new BenchCluster(context, new ClusterStore(context.Store, Path.Combine(folder, "cluster.db"), null), folder, workload);
        }

        try
        {
            for (var i = 0; i < nodes; i++)
            {
                cluster._shards = shards;
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
        _nodes.TryGetValue(address, out var process) ? process : throw new BenchCheckException($"{address} is none of the node processes");

    /// <summary>The addresses of the node processes started so far (killed ones included).</summary>
    public IReadOnlyCollection<string> Addresses => _nodes.Keys;

    /// <summary>Starts one more node process; returns its address.</summary>
    public async Task<string> StartNodeAsync()
    {
        var start = new ProcessStartInfo(Remote.RemoteSession.DotnetHost()) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { typeof(FailoverTime).Assembly.Location, "--role", "cluster-node", "--port", FreePort().ToString(CultureInfo.InvariantCulture) }.Concat(_store.Arguments()).Concat(["--shards", _shards.ToString(CultureInfo.InvariantCulture)]))
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

        var address = line[(ClusterNode.Ready.Length + 1)..].Trim();
        _nodes[address] = process;

        // What the node logs (warnings and errors, on stderr) is kept to be shown after the run;
        // read at once, so that a full pipe never blocks the node.
        _ = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } warning)
            {
                _warnings.Enqueue($"{address}: {warning}");
            }
        });
        return address;
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

        var warnings = Path.Combine(Path.GetTempPath(), $"recall-bench-{_workload}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.log");
        if (!_warnings.IsEmpty)
        {
            await File.WriteAllLinesAsync(warnings, _warnings);
        }

        _context.Log($"{_workload}: {_nodes.Count} node processes stopped; {_warnings.Count} lines of warnings from them{(_warnings.IsEmpty ? "" : " in " + warnings)}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
