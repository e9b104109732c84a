namespace Recall.Benchmarks.Workloads;

/// <summary>Every workload, in the order they run (the anchors' order for the plain ones).</summary>
internal static class WorkloadRegistry
{
    public static IReadOnlyList<IWorkload> All(BenchOptions options) =>
    [
        new IdleMemoryPlain(options),
        new TellPingPong(options),
        new TellOneWay(options),
        new Persistence.PersistWorkload("persist-seq", Persistence.Mode.Persist, 1, 100_000, options),
        new Persistence.PersistWorkload("persist-async", Persistence.Mode.PersistAsync, 1, 100_000, options),
        new Persistence.PersistWorkload("persist-many", Persistence.Mode.Persist, 1000, 100, options),
        new Persistence.RecoverWorkload("recover", 1, 100_000, options),
        new Persistence.RecoverWorkload("recover-many", 1000, 100, options),
        new Persistence.PersistWorkload("persist-seq-typed", Persistence.Mode.Persist, 1, 100_000, options, typed: true),
        new Persistence.PersistWorkload("persist-many-typed", Persistence.Mode.Persist, 1000, 100, options, typed: true),
        new Persistence.IdleMemoryPersistent(options),
        new Persistence.LimitSqliteInsert(options),
        new Persistence.QueryLiveLatency(options),
    ];
}
