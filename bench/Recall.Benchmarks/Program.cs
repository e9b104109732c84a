using Recall.Benchmarks;

// Usage: dotnet run -c Release --project bench/Recall.Benchmarks -- [--workload a,b] [--store s] [--runs N] [--warmups N]
// JSON result lines go to stdout (one per workload × store); progress and every run's time go to stderr.
// `recall bench` runs the same Runner with a progress display and a table instead.
if (Recall.Benchmarks.Workloads.Cluster.ClusterNode.IsRequested(args))
{
    // a node of the cluster workloads, started by the driver: `--role cluster-node --port P --store S --target T`
    return await Recall.Benchmarks.Workloads.Cluster.ClusterNode.RunAsync(args);
}

if (Recall.Benchmarks.Workloads.Remote.RemoteServer.IsRequested(args))
{
    // the server node of the remote workloads, started by the driver: `--role server --port P`
    return Recall.Benchmarks.Workloads.Remote.RemoteServer.Run(args);
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine("usage: [--workload NAME[,NAME]] [--store NAME] [--runs N] [--warmups N] [--postgres CONNSTR] [--scale-down K] [--serializer binary|json] [--remote-queue-capacity N] [--list]");
    return 2;
}

var output = new JsonLinesObserver(Console.Out, Console.Error);
var runner = new Runner(options, output);
if (options.ListOnly)
{
    foreach (var (name, stores, n) in runner.Workloads)
    {
        Console.WriteLine($"{name} (stores: {string.Join(", ", stores)}; n = {n})");
    }

    return 0;
}

if (runner.UnknownWorkloads is { Count: > 0 } unknown)
{
    Console.Error.WriteLine($"unknown workload(s): {string.Join(", ", unknown)}; known: {string.Join(", ", runner.Workloads.Select(w => w.Name))}");
    return 2;
}

output.Log(runner.DescribeEnvironment());

// Ctrl+C abandons the run in progress (its actor systems are terminated, its node processes stopped): exit 130.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

try
{
    return await runner.RunAsync(cancellation.Token);
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    output.Log("cancelled");
    return 130;
}
