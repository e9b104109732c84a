using System.Collections.Concurrent;
using Recall.Actors;

namespace Recall.Cluster.Sharding;

/// <summary>
/// Cluster sharding in one actor system: entities spread over the nodes by shard, each shard on one
/// node at a time under its lease. Reach it with <c>system.Sharding()</c>; start each entity type
/// once per node, with <see cref="Start"/> where it may run and <see cref="StartProxy"/> where it
/// is only sent to.
/// </summary>
public sealed class ShardingExtension
{
    private readonly ConcurrentDictionary<string, IActorRef> _regions = new(StringComparer.Ordinal);
    private readonly ActorSystem _system;

    internal ShardingExtension(ActorSystem system) => _system = system;

    /// <summary>The system this belongs to.</summary>
    public ActorSystem System => _system;

    /// <summary>
    /// Starts the entity type <paramref name="typeName"/> on this node: its region (the returned ref:
    /// send it messages for any entity, from any node), and a part in its coordinator singleton.
    /// An entity <c>id</c> runs as <paramref name="entityProps"/>(id) in its shard's home, started by
    /// its first message. Call it on every node that may host the type, with the same extractor.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid, or the cluster has no shard store.</exception>
    /// <exception cref="InvalidOperationException">The type was started on this node already.</exception>
    public IActorRef Start(string typeName, Func<string, Props> entityProps, IMessageExtractor extractor, ShardingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(entityProps);
        return StartRegion(typeName, entityProps, extractor, settings);
    }

    /// <summary>Starts a region of <paramref name="typeName"/> that only sends to the nodes that host it.</summary>
    /// <exception cref="InvalidOperationException">The type was started on this node already.</exception>
    public IActorRef StartProxy(string typeName, IMessageExtractor extractor, ShardingSettings? settings = null) =>
        StartRegion(typeName, null, extractor, settings);

    /// <summary>The entity types started on this node (as regions or proxies).</summary>
    internal IReadOnlyCollection<string> TypeNames => [.. _regions.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The region of <paramref name="typeName"/> started on this node.</summary>
    /// <exception cref="InvalidOperationException">The type was not started here.</exception>
    public IActorRef Region(string typeName) =>
        _regions.TryGetValue(typeName, out var region)
            ? region
            : throw new InvalidOperationException($"Sharded type '{typeName}' was not started on {_system.Address}: call system.Sharding().Start or StartProxy first.");

    /// <summary>What this node's region of <paramref name="typeName"/> holds now: shards, entities, buffered and dropped messages.</summary>
    public Task<ShardingStatistics> StatisticsAsync(string typeName, TimeSpan? timeout = null) =>
        Region(typeName).Ask<ShardingStatistics>(GetStatistics.Instance, timeout ?? TimeSpan.FromSeconds(5));

    private IActorRef StartRegion(string typeName, Func<string, Props>? entityProps, IMessageExtractor extractor, ShardingSettings? settings)
    {
        ArgumentException.ThrowIfNullOrEmpty(typeName);
        ArgumentNullException.ThrowIfNull(extractor);
        settings ??= new ShardingSettings();
        settings.Validate(typeName);
        var cluster = _system.Cluster();
        var store = cluster.Options.Shards
            ?? throw new ArgumentException($"Sharding '{typeName}' needs ClusterOptions.Shards: keep shard homes in the database of the journal (UseShardStore(new SqliteShardStore(...)) or new PostgreSqlShardStore(...)), or share one InMemoryShardStore between nodes of one process.");
        var hosting = entityProps is not null && (settings.Role is null || cluster.Options.Roles.Contains(settings.Role, StringComparer.Ordinal));
        var metrics = new ShardingMetrics(_system.Address.ToString(), typeName);
        lock (_regions)
        {
            if (_regions.ContainsKey(typeName))
            {
                throw new InvalidOperationException($"Sharded type '{typeName}' is already started on {_system.Address}.");
            }

            var coordinatorName = CoordinatorName(typeName);
            var coordinator = hosting
                ? cluster.StartSingleton(coordinatorName, Props.Create(() => new ShardCoordinator(typeName, settings, cluster, store, metrics)))
                : cluster.StartSingletonProxy(coordinatorName);
            var region = _system.SpawnSystemActor(
                Props.Create(() => new ShardRegion(typeName, hosting ? entityProps : null, extractor, settings, cluster, store, metrics, coordinator)),
                RegionName(typeName));
            _regions[typeName] = region;
            if (hosting)
            {
                cluster.AddLeaveStep(() => region.Ask<RegionHandedOff>(LeaveRegion.Instance, settings.HandOffTimeout * 2));
            }

            return region;
        }
    }

    internal static string CoordinatorName(string typeName) => "sharding-coordinator-" + Shard.NameOf(typeName);

    internal static string RegionName(string typeName) => "sharding-" + Shard.NameOf(typeName);
}

/// <summary>Reaches cluster sharding.</summary>
public static class ShardingActorSystemExtensions
{
    /// <summary>The system's cluster sharding.</summary>
    /// <exception cref="InvalidOperationException">The system was created without <c>UseCluster</c>.</exception>
    public static ShardingExtension Sharding(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<ShardingExtension>()
            ?? throw new InvalidOperationException($"Actor system '{system.Name}' is not a cluster node: create it with options.UseCluster(c => c.Listen(host, port).UseMembershipStore(...).UseLeaseStore(...).UseShardStore(...)).");
    }
}
