using System.Text.Json;

namespace Recall.Persistence.Serialization;

/// <summary>Turns events and snapshots into bytes and back. The default is <see cref="JsonEventSerializer"/>.</summary>
public interface ISerializer
{
    /// <summary>The bytes of <paramref name="value"/>, whose runtime type is <paramref name="type"/>.</summary>
    byte[] Serialize(object value, Type type);

    /// <summary>The value of type <paramref name="type"/> that <paramref name="data"/> holds.</summary>
    object Deserialize(ReadOnlySpan<byte> data, Type type);
}

/// <summary>
/// System.Text.Json as UTF-8 bytes. Pass options with a source-generated
/// <c>JsonSerializerContext</c> as <see cref="JsonSerializerOptions.TypeInfoResolver"/> for
/// trimming and speed.
/// </summary>
public sealed class JsonEventSerializer(JsonSerializerOptions? options = null) : ISerializer
{
    private readonly JsonSerializerOptions _options = options ?? new JsonSerializerOptions(JsonSerializerDefaults.General);

    /// <inheritdoc />
    public byte[] Serialize(object value, Type type) => JsonSerializer.SerializeToUtf8Bytes(value, type, _options);

    /// <inheritdoc />
    public object Deserialize(ReadOnlySpan<byte> data, Type type) =>
        JsonSerializer.Deserialize(data, type, _options) ?? throw new JsonException($"The stored payload of {type.Name} is null.");
}

/// <summary>What a store keeps of a payload: its manifest and its bytes.</summary>
/// <param name="Manifest">The stable type name.</param>
/// <param name="Data">The serialized payload.</param>
public readonly record struct SerializedPayload(string Manifest, byte[] Data);

/// <summary>
/// The registry and serializer together, as stores use them: one call to store a payload, one to
/// read it back. Every store of a system shares one instance.
/// </summary>
public sealed class EventSerialization(EventTypeRegistry registry, ISerializer serializer)
{
    /// <summary>A serialization with a fresh registry and the JSON serializer.</summary>
    public EventSerialization()
        : this(new EventTypeRegistry(), new JsonEventSerializer())
    {
    }

    /// <summary>The type-to-manifest map.</summary>
    public EventTypeRegistry Registry { get; } = registry;

    /// <summary>The byte format.</summary>
    public ISerializer Serializer { get; } = serializer;

    /// <summary>Serializes a payload with its manifest.</summary>
    /// <exception cref="UnregisteredEventTypeException">The payload's type has no manifest.</exception>
    public SerializedPayload Serialize(object payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var type = payload.GetType();
        return new SerializedPayload(Registry.ManifestOf(type), Serializer.Serialize(payload, type));
    }

    /// <summary>Reads a payload back.</summary>
    /// <exception cref="UnknownManifestException">The manifest is not registered.</exception>
    public object Deserialize(string manifest, ReadOnlySpan<byte> data) => Serializer.Deserialize(data, Registry.TypeOf(manifest));
}
