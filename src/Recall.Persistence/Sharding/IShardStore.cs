namespace Recall.Persistence.Sharding;

/// <summary>Where a shard lives, as its store keeps it.</summary>
/// <param name="TypeName">The sharded entity type (e.g. <c>wallet</c>).</param>
/// <param name="ShardId">The shard.</param>
/// <param name="Node">The address of the node whose region hosts it, e.g. <c>recall://shop@10.0.0.5:7400</c>.</param>
public sealed record ShardHomeRecord(string TypeName, string ShardId, string Node);

/// <summary>How many entities a shard remembers.</summary>
/// <param name="TypeName">The sharded entity type.</param>
/// <param name="ShardId">The shard.</param>
/// <param name="Entities">How many entity ids it keeps.</param>
public sealed record ShardEntityCount(string TypeName, string ShardId, int Entities);

/// <summary>A shard as inspection tools show it: its home, if allocated, and how many entities it remembers.</summary>
/// <param name="TypeName">The sharded entity type.</param>
/// <param name="ShardId">The shard.</param>
/// <param name="Node">The address of its home node, or null while it has none.</param>
/// <param name="RememberedEntities">How many entity ids it remembers (0 unless the type remembers entities).</param>
public sealed record ShardSummary(string TypeName, string ShardId, string? Node, int RememberedEntities)
{
    /// <summary>One row per shard that has a home or remembers entities, ordered by type and shard (the same SQL on SQLite and PostgreSQL, with the schema's prefix).</summary>
    internal static string Sql(string prefix) => $"""
        SELECT type_name, shard_id, max(node), CAST(sum(n) AS integer) FROM (
            SELECT type_name, shard_id, node, 0 AS n FROM {prefix}cluster_shards
            UNION ALL
            SELECT type_name, shard_id, NULL, count(*) FROM {prefix}cluster_shard_entities GROUP BY type_name, shard_id
        ) AS shards GROUP BY type_name, shard_id ORDER BY type_name, shard_id
        """;
}

/// <summary>
/// Where cluster sharding keeps what must outlive its coordinator and its nodes: the home of each
/// allocated shard (a new coordinator continues from them), and the entities each shard remembers
/// (restarted wherever the shard goes). A table in the database that already holds the journal.
/// </summary>
/// <remarks>
/// The homes are placement, not ownership: a shard runs only under its lease, whose fencing token
/// its entities write with. A home written by a coordinator that has since lost its lease can
/// send messages to a node that does not run the shard, never let two nodes write for it.
/// </remarks>
public interface IShardStore
{
    /// <summary>The homes of the shards of <paramref name="typeName"/>, or of every type when it is null, ordered by type and shard.</summary>
    ValueTask<IReadOnlyList<ShardHomeRecord>> ReadHomesAsync(string? typeName, CancellationToken cancellationToken);

    /// <summary>Writes (or moves) the home of a shard.</summary>
    ValueTask SetHomeAsync(string typeName, string shardId, string node, CancellationToken cancellationToken);

    /// <summary>Forgets the homes of <paramref name="shardIds"/> (they are allocated again when asked for).</summary>
    ValueTask RemoveHomesAsync(string typeName, IReadOnlyCollection<string> shardIds, CancellationToken cancellationToken);

    /// <summary>The entity ids a shard remembers, ordered.</summary>
    ValueTask<IReadOnlyList<string>> ReadEntitiesAsync(string typeName, string shardId, CancellationToken cancellationToken);

    /// <summary>Remembers an entity of a shard (idempotent).</summary>
    ValueTask AddEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken);

    /// <summary>Forgets an entity of a shard (idempotent).</summary>
    ValueTask RemoveEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken);

    /// <summary>How many entities each shard that remembers any keeps, for <paramref name="typeName"/> or every type when it is null.</summary>
    ValueTask<IReadOnlyList<ShardEntityCount>> CountEntitiesAsync(string? typeName, CancellationToken cancellationToken);
}

/// <summary>The argument rules every shard store applies, with errors that name what was wrong.</summary>
internal static class ShardArguments
{
    internal static void Check(string typeName, string shardId)
    {
        ArgumentException.ThrowIfNullOrEmpty(typeName);
        if (string.IsNullOrEmpty(shardId))
        {
            throw new ArgumentException($"A shard id of type '{typeName}' must not be empty.", nameof(shardId));
        }
    }

    internal static void Check(string typeName, string shardId, string entityId)
    {
        Check(typeName, shardId);
        if (string.IsNullOrEmpty(entityId))
        {
            throw new ArgumentException($"An entity id of shard '{shardId}' of type '{typeName}' must not be empty.", nameof(entityId));
        }
    }
}
