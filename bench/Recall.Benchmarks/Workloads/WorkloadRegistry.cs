namespace Recall.Benchmarks.Workloads;

/// <summary>Every workload, in the order they run (the anchors' order for the plain ones).</summary>
internal static class WorkloadRegistry
{
    public static IReadOnlyList<IWorkload> All(BenchOptions options) =>
    [
        new IdleMemoryPlain(options),
        new TellPingPong(options),
        new TellOneWay(options),
    ];
}
