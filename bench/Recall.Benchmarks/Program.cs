using System.Runtime;
using Recall.Benchmarks;
using Recall.Benchmarks.Workloads;

// Usage: dotnet run -c Release --project bench/Recall.Benchmarks -- [--workload a,b] [--store s] [--runs N] [--warmups N]
// JSON result lines go to stdout (one per workload × store); progress and every run's time go to stderr.
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine(exception.Message);
    Console.Error.WriteLine("usage: [--workload NAME[,NAME]] [--store NAME] [--runs N] [--warmups N] [--postgres CONNSTR] [--scale-down K] [--list]");
    return 2;
}

var workloads = WorkloadRegistry.All(options);
if (options.ListOnly)
{
    foreach (var workload in workloads)
    {
        Console.WriteLine($"{workload.Name} (stores: {string.Join(", ", workload.Stores)}; n = {workload.N})");
    }

    return 0;
}

var unknown = options.Workloads.Where(w => !workloads.Any(x => string.Equals(x.Name, w, StringComparison.OrdinalIgnoreCase))).ToArray();
if (unknown.Length > 0)
{
    Console.Error.WriteLine($"unknown workload(s): {string.Join(", ", unknown)}; known: {string.Join(", ", workloads.Select(w => w.Name))}");
    return 2;
}

var runner = new Runner(options);
ThreadPool.GetMinThreads(out var minWorkers, out _);
runner.Log($"gc: server={GCSettings.IsServerGC} latency={GCSettings.LatencyMode}; cores={Environment.ProcessorCount}; " +
    $"threadpool min workers={minWorkers}; runtime={Environment.Version}; load average={Runner.LoadAverage()}; " +
    $"runs={options.Runs} warm-ups={options.Warmups}{(options.ScaleDown > 1 ? $" SCALED DOWN /{options.ScaleDown}" : "")}");
return await runner.RunAsync(workloads);
