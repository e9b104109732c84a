namespace Recall.Benchmarks.Workloads;

/// <summary>Every workload, in the order they run (the anchors' order for the plain ones and the remote ones).</summary>
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
        new Persistence.PersistWorkload("persist-many-fenced", Persistence.Mode.Persist, 1000, 100, options, fenced: true),
        new Persistence.PersistWorkload("persist-seq", Persistence.Mode.Persist, 1, 100_000, options, serialized: false),
        new Persistence.PersistWorkload("persist-async", Persistence.Mode.PersistAsync, 1, 100_000, options, serialized: false),
        new Persistence.PersistWorkload("persist-many", Persistence.Mode.Persist, 1000, 100, options, serialized: false),
        new Persistence.RecoverWorkload("recover", 1, 100_000, options),
        new Persistence.RecoverWorkload("recover-many", 1000, 100, options),
        new Persistence.PersistWorkload("persist-seq-typed", Persistence.Mode.Persist, 1, 100_000, options, typed: true),
        new Persistence.PersistWorkload("persist-many-typed", Persistence.Mode.Persist, 1000, 100, options, typed: true),
        new Persistence.IdleMemoryPersistent(options),
        new Persistence.LimitSqliteInsert(options),
        new Persistence.LimitPostgresInsert(options),
        new Persistence.QueryLiveLatency(options),
        new ProjectionCatchUp(options),

        // Opt-in (run only when named): two processes on loopback, as the remote-messaging reference programs.
        new Remote.RemotePingPong(options, pairs: 1),
        new Remote.RemotePingPong(options, pairs: 16),
        new Remote.RemoteOneWay(options),
        new Remote.RemoteAskLatency(options),

        // Opt-in: node processes on loopback sharing the store for members, leases and shards.
        new Cluster.FailoverTime(options),
        new Cluster.ShardingThroughput(options),
        new Cluster.RebalanceTime(),
        new Cluster.ShardFailoverTime(options),
    ];
}
