using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Recall.Cluster.Sharding;

/// <summary>What one node's region of one entity type holds and did, as counted here.</summary>
/// <param name="Shards">Shards running on this node now.</param>
/// <param name="Entities">Entities running on this node now.</param>
/// <param name="Buffered">Messages waiting in this region for a shard's home now.</param>
/// <param name="Dropped">Messages this region or its shards turned into dead letters since it started: a buffer was full, or they still waited when it stopped.</param>
public sealed record ShardingStatistics(int Shards, int Entities, int Buffered, long Dropped);

/// <summary>
/// The <c>Recall.Cluster.Sharding</c> meter: shards and entities per node and type, messages
/// buffered and dropped, how long shards waited for their lease, how long handoffs took.
/// </summary>
internal sealed class ShardingMetrics : IDisposable
{
    public const string MeterName = "Recall.Cluster.Sharding";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> DroppedMessages = Meter.CreateCounter<long>("recall.sharding.dropped", "{message}", "Messages turned into dead letters because a buffer was full or still waited when a region or shard stopped");
    private static readonly Histogram<double> StartDuration = Meter.CreateHistogram<double>("recall.sharding.shard.start.duration", "s", "From a shard's creation on its home until it held its lease and ran");
    private static readonly Histogram<double> HandOffDuration = Meter.CreateHistogram<double>("recall.sharding.handoff.duration", "s", "From the coordinator's decision to move a shard until its old home confirmed it stopped");
    private static readonly List<ShardingMetrics> Live = [];

    private readonly TagList _tags;
    private readonly ConcurrentDictionary<string, int> _entitiesPerShard = new(StringComparer.Ordinal);
    private int _shards;
    private int _entities;
    private int _buffered;
    private long _dropped;

    static ShardingMetrics()
    {
        Meter.CreateObservableGauge("recall.sharding.shards", () => Observe(m => m._shards), "{shard}", "Shards running on this node");
        Meter.CreateObservableGauge("recall.sharding.entities", () => Observe(m => m._entities), "{entity}", "Entities running on this node");
        Meter.CreateObservableGauge("recall.sharding.buffered", () => Observe(m => m._buffered), "{message}", "Messages waiting for a shard's home");
    }

    public ShardingMetrics(string node, string typeName)
    {
        _tags = new TagList { { "node", node }, { "type", typeName } };
        lock (Live)
        {
            Live.Add(this);
        }
    }

    public ShardingStatistics Snapshot() => new(Volatile.Read(ref _shards), Volatile.Read(ref _entities), Volatile.Read(ref _buffered), Interlocked.Read(ref _dropped));

    /// <summary>The entities of each shard running here now (shards without entities count 0).</summary>
    public IReadOnlyDictionary<string, int> EntitiesPerShard() => new Dictionary<string, int>(_entitiesPerShard, StringComparer.Ordinal);

    public void ShardStarted(string shardId, TimeSpan waited)
    {
        Interlocked.Increment(ref _shards);
        _entitiesPerShard.TryAdd(shardId, 0);
        StartDuration.Record(waited.TotalSeconds, _tags);
    }

    /// <summary>A shard stopped; <paramref name="entitiesLeft"/> of its entities were still counted (they stopped with it).</summary>
    public void ShardStopped(string shardId, bool wasRunning, int entitiesLeft)
    {
        _entitiesPerShard.TryRemove(shardId, out _);
        if (wasRunning)
        {
            Interlocked.Decrement(ref _shards);
        }

        Interlocked.Add(ref _entities, -entitiesLeft);
    }

    public void EntityStarted(string shardId)
    {
        Interlocked.Increment(ref _entities);
        _entitiesPerShard.AddOrUpdate(shardId, 1, (_, count) => count + 1);
    }

    public void EntityStopped(string shardId)
    {
        Interlocked.Decrement(ref _entities);
        if (_entitiesPerShard.TryGetValue(shardId, out var count))
        {
            _entitiesPerShard[shardId] = Math.Max(0, count - 1); // only its shard writes its count
        }
    }

    public void Buffered(int change) => Interlocked.Add(ref _buffered, change);

    public void Dropped(int messages)
    {
        if (messages > 0)
        {
            Interlocked.Add(ref _dropped, messages);
            DroppedMessages.Add(messages, _tags);
        }
    }

    public void HandedOff(TimeSpan took) => HandOffDuration.Record(took.TotalSeconds, _tags);

    public void Dispose()
    {
        lock (Live)
        {
            Live.Remove(this);
        }
    }

    private static IEnumerable<Measurement<int>> Observe(Func<ShardingMetrics, int> value)
    {
        lock (Live)
        {
            return [.. Live.Select(m => new Measurement<int>(value(m), m._tags))];
        }
    }
}
