using System.Text;
using System.Text.Json.Serialization;
using Recall.Persistence.Serialization;

namespace Recall.Cluster.Sharding;

/// <summary>
/// Reads a sharded message: which entity it is for, which shard that entity lives in, and what the
/// entity receives. The shard of an entity must never change (it decides where the entity runs).
/// </summary>
public interface IMessageExtractor
{
    /// <summary>The entity the message is for, or null when the message is not for this entity type (it becomes a dead letter).</summary>
    string? EntityId(object message);

    /// <summary>The shard of the entity the message is for; the same for every message to one entity.</summary>
    string ShardId(object message);

    /// <summary>What the entity receives (the message itself, or what it wraps).</summary>
    object Unwrap(object message);
}

/// <summary>
/// A message to the sharded entity <paramref name="EntityId"/>, for types whose messages do not name
/// their entity. Between nodes the message travels with its manifest (its type needs one, as every
/// remote message does).
/// </summary>
/// <param name="EntityId">The entity.</param>
/// <param name="Message">What the entity receives.</param>
[EventType("recall.sharding.envelope.v1")]
public sealed record ShardingEnvelope(string EntityId, [property: JsonConverter(typeof(PayloadJsonConverter))] object Message);

/// <summary>
/// The default extractor: a fixed number of shards, the shard of an entity the stable hash of its
/// id (FNV-1a over UTF-8 mixed by Murmur3's finalizer, the same on every node and every run, unlike <see cref="string.GetHashCode()"/>).
/// Understands <see cref="ShardingEnvelope"/>; override <see cref="EntityId"/> and <see cref="Unwrap"/>
/// for messages that name their entity themselves.
/// </summary>
public class HashCodeMessageExtractor : IMessageExtractor
{
    /// <summary>Spreads entities over <paramref name="shards"/> shards: about ten per node you expect at most is a good start; it cannot change while entities exist.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shards"/> is not positive.</exception>
    public HashCodeMessageExtractor(int shards)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        Shards = shards;
    }

    /// <summary>How many shards there are.</summary>
    public int Shards { get; }

    /// <inheritdoc />
    public virtual string? EntityId(object message) => (message as ShardingEnvelope)?.EntityId;

    /// <inheritdoc />
    public string ShardId(object message) =>
        EntityId(message) is { } entityId ? ShardOf(entityId, Shards) : throw new ArgumentException($"{message.GetType().Name} names no entity for this extractor.", nameof(message));

    /// <inheritdoc />
    public virtual object Unwrap(object message) => message is ShardingEnvelope envelope ? envelope.Message : message;

    /// <summary>The shard of <paramref name="entityId"/> among <paramref name="shards"/>: 0 to shards − 1, as a string.</summary>
    public static string ShardOf(string entityId, int shards)
    {
        ArgumentNullException.ThrowIfNull(entityId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        return (StableHash(entityId) % (uint)shards).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>FNV-1a (32 bits) of the UTF-8 bytes of <paramref name="value"/>, mixed by Murmur3's finalizer.</summary>
    internal static uint StableHash(string value)
    {
        Span<byte> small = stackalloc byte[256];
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var bytes = max <= small.Length ? small : new byte[max];
        var length = Encoding.UTF8.GetBytes(value, bytes);
        var hash = 2166136261u;
        foreach (var b in bytes[..length])
        {
            hash = (hash ^ b) * 16777619u;
        }

        // Murmur3's finalizer: ids that differ in their last characters spread over all bits.
        hash ^= hash >> 16;
        hash *= 0x85ebca6bu;
        hash ^= hash >> 13;
        hash *= 0xc2b2ae35u;
        hash ^= hash >> 16;
        return hash;
    }
}
