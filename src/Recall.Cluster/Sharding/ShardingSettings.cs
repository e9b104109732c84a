namespace Recall.Cluster.Sharding;

/// <summary>Settings of one sharded entity type. Every property has a documented default.</summary>
public sealed class ShardingSettings
{
    /// <summary>Only nodes with this role host the type; others only send to it (as with <c>StartProxy</c>). Default null: every node that calls <c>Start</c>.</summary>
    public string? Role { get; set; }

    /// <summary>How shards are placed and moved. Default <see cref="LeastShardAllocationStrategy"/> with its defaults.</summary>
    public IShardAllocationStrategy AllocationStrategy { get; set; } = new LeastShardAllocationStrategy();

    /// <summary>How often the coordinator asks the strategy which shards to move (after a node joins, for instance). Default 2 s.</summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a handoff may take: the old home waits this long for its entities to finish their
    /// writes and stop, then stops them at once; the coordinator gives up a handoff not confirmed in
    /// twice this. Default 10 s.
    /// </summary>
    public TimeSpan HandOffTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages a region keeps per shard while the shard's home is unknown or moving; beyond that they become dead letters, counted. Default 10,000.</summary>
    public int BufferSize { get; set; } = 10_000;

    /// <summary>An entity that received no message for this long is stopped (it starts again on its next message). Default 2 min; null never.</summary>
    public TimeSpan? PassivateIdleAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The most entities one shard keeps running; starting one more stops the least recently used. Default null: no limit.</summary>
    public int? MaxActiveEntitiesPerShard { get; set; }

    /// <summary>
    /// Whether shards remember their entities (in the cluster's <c>IShardStore</c>) and start them
    /// again without a message wherever the shard goes. A remembered entity is never passivated for
    /// being idle; it is forgotten when it asks to stop with <see cref="Passivate"/>. Default false.
    /// </summary>
    public bool RememberEntities { get; set; }

    /// <summary>
    /// What a shard sends an entity to stop it on handoff and passivation (unless the entity named its
    /// own in <see cref="Passivate"/>). An entity that has not stopped after <see cref="HandOffTimeout"/>
    /// is stopped at once. Default <see cref="Recall.Actors.GracefulStop"/>: a persistent entity first
    /// finishes the writes it started.
    /// </summary>
    public object StopMessage { get; set; } = Recall.Actors.GracefulStop.Instance;

    /// <summary>How often a shard whose lease is held elsewhere (its old home has not let go yet) tries again, and how soon a remembered entity that stopped is started again. Default 1 s.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    internal void Validate(string typeName)
    {
        ArgumentNullException.ThrowIfNull(AllocationStrategy, $"ShardingSettings.AllocationStrategy of '{typeName}'");
        ArgumentNullException.ThrowIfNull(StopMessage, $"ShardingSettings.StopMessage of '{typeName}'");
        if (RebalanceInterval <= TimeSpan.Zero || HandOffTimeout <= TimeSpan.Zero || RetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ShardingSettings of '{typeName}': RebalanceInterval ({RebalanceInterval}), HandOffTimeout ({HandOffTimeout}) and RetryInterval ({RetryInterval}) must be positive.");
        }

        if (BufferSize < 1 || MaxActiveEntitiesPerShard < 1 || PassivateIdleAfter <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ShardingSettings of '{typeName}': BufferSize ({BufferSize}) and MaxActiveEntitiesPerShard ({MaxActiveEntitiesPerShard}) must be at least 1, PassivateIdleAfter ({PassivateIdleAfter}) positive or null.");
        }
    }
}

/// <summary>
/// Starts an entity without giving it a message: send it as the message for the entity
/// (<c>new ShardingEnvelope(id, StartEntity.Instance)</c>, or wrapped as your extractor expects).
/// The entity does not receive it. Sharded daemon processes keep their workers running with it.
/// </summary>
[Recall.Persistence.Serialization.EventType("recall.sharding.start-entity.v1")]
public sealed record StartEntity
{
    /// <summary>An instance (all are alike).</summary>
    public static StartEntity Instance { get; } = new();
}

/// <summary>Sent by an entity to its parent (<c>Context.Parent.Tell(new Passivate())</c>) to be stopped: messages that arrive meanwhile wait and start it again. A remembered entity is forgotten.</summary>
/// <param name="StopMessage">What the shard sends the entity to stop it. Default <see cref="Recall.Actors.GracefulStop"/>.</param>
public sealed record Passivate(object? StopMessage = null);
