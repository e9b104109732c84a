using Recall.Actors;
using Recall.Persistence.Serialization;

namespace Recall.Cluster.Sharding;

// What regions and their coordinator say to each other, across nodes.

/// <summary>A region makes itself known to the coordinator (again, whenever it has none): <paramref name="Hosting"/> regions get shards, proxies only homes.</summary>
[EventType("recall.sharding.register.v1")]
internal sealed record RegisterRegion(IActorRef Region, bool Hosting);

/// <summary>The coordinator's answer to <see cref="RegisterRegion"/>: the region watches it and registers again when it stops.</summary>
[EventType("recall.sharding.registered.v1")]
internal sealed record RegionRegistered(IActorRef Coordinator);

/// <summary>A region asks where a shard lives.</summary>
[EventType("recall.sharding.get-home.v1")]
internal sealed record GetShardHome(string ShardId);

/// <summary>Where a shard lives: the region that hosts it.</summary>
[EventType("recall.sharding.home.v1")]
internal sealed record ShardHome(string ShardId, IActorRef Region);

/// <summary>A shard is about to move: forget its home (buffer its messages) and acknowledge.</summary>
[EventType("recall.sharding.begin-hand-off.v1")]
internal sealed record BeginHandOff(string ShardId);

/// <summary>A region forgot the shard's home.</summary>
[EventType("recall.sharding.begin-hand-off-ack.v1")]
internal sealed record BeginHandOffAck(string ShardId);

/// <summary>To the shard's home: stop it (its entities finish their writes) and release its lease.</summary>
[EventType("recall.sharding.hand-off.v1")]
internal sealed record HandOff(string ShardId);

/// <summary>The shard has stopped and its lease is released.</summary>
[EventType("recall.sharding.shard-stopped.v1")]
internal sealed record ShardStopped(string ShardId);

/// <summary>A region's node leaves: move all its shards elsewhere and give it no more.</summary>
[EventType("recall.sharding.region-leaving.v1")]
internal sealed record RegionLeaving(IActorRef Region);

/// <summary>To a local shard: hand off (from its region).</summary>
internal sealed class HandOffShard
{
    public static readonly HandOffShard Instance = new();
}

/// <summary>The region's local answer to a leave request: every shard of this node has been handed off (or the wait gave up).</summary>
internal sealed class RegionHandedOff
{
    public static readonly RegionHandedOff Instance = new();
}

/// <summary>Asks a region (of any node) for the entities of each shard it runs now, for the dashboard.</summary>
[EventType("recall.sharding.get-shard-entities.v1")]
internal sealed record GetShardEntities;

/// <summary>The answer to <see cref="GetShardEntities"/>: shard id to running entities.</summary>
[EventType("recall.sharding.shard-entities.v1")]
internal sealed record ShardEntities(IReadOnlyDictionary<string, int> Entities);
