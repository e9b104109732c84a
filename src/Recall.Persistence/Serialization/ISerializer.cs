using System.Text.Json;
using Recall.Actors;
using Recall.Actors.Internal;

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
/// <remarks>
/// Actor refs inside values (<c>IActorRef</c>, <c>IActorRef&lt;T&gt;</c>, <c>IReplyTo&lt;T&gt;</c>)
/// are written as their full path and read back as refs of the system that reads them, so
/// messages sent to another node and stored delivery state can carry them.
/// </remarks>
public sealed class JsonEventSerializer : ISerializer
{
    private readonly JsonSerializerOptions _options;
    private readonly ActorRefJsonConverter _refs = new();

    /// <summary>Creates the serializer with <paramref name="options"/> (copied, with the actor ref converter added), or the general defaults.</summary>
    public JsonEventSerializer(JsonSerializerOptions? options = null)
    {
        _options = options is null ? new JsonSerializerOptions(JsonSerializerDefaults.General) : new JsonSerializerOptions(options);
        _options.Converters.Add(_refs);
        _options.Converters.Add(new UnconfirmedDeliveryJsonConverter(this));
        _options.Converters.Add(new PayloadJsonConverter.SerializationMarker(this));
    }

    /// <summary>The serialization this serializer belongs to: values inside values (a delivery snapshot's messages) are stored with their manifests through it.</summary>
    internal EventSerialization? Owner { get; set; }

    /// <summary>The system that refs read outside any ambient one resolve in (the one whose stores use this serializer).</summary>
    internal ActorSystem? System
    {
        get => _refs.BoundSystem;
        set => _refs.BoundSystem = value;
    }

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
public sealed class EventSerialization
{
    /// <summary>A serialization with <paramref name="registry"/> and <paramref name="serializer"/>.</summary>
    public EventSerialization(EventTypeRegistry registry, ISerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(serializer);
        Registry = registry;
        Serializer = serializer;
        if (serializer is JsonEventSerializer json)
        {
            json.Owner ??= this;
        }
    }

    /// <summary>A serialization with a fresh registry and the JSON serializer.</summary>
    public EventSerialization()
        : this(new EventTypeRegistry(), new JsonEventSerializer())
    {
    }

    /// <summary>The type-to-manifest map.</summary>
    public EventTypeRegistry Registry { get; }

    /// <summary>The byte format of every type without a serializer of its own (<see cref="UseSerializer"/>).</summary>
    public ISerializer Serializer { get; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Type, ISerializer> _byType = new();

    /// <summary>
    /// Gives values of exactly <paramref name="type"/> a serializer of their own (for example
    /// protobuf for a hot message), for writing and reading; the manifest stays the registry's.
    /// </summary>
    public EventSerialization UseSerializer(Type type, ISerializer serializer)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(serializer);
        _byType[type] = serializer;
        return this;
    }

    /// <summary>Gives values of <typeparamref name="T"/> a serializer of their own; see <see cref="UseSerializer(Type, ISerializer)"/>.</summary>
    public EventSerialization UseSerializer<T>(ISerializer serializer) => UseSerializer(typeof(T), serializer);

    /// <summary>The serializer of values of <paramref name="type"/>.</summary>
    public ISerializer SerializerFor(Type type) =>
        !_byType.IsEmpty && _byType.TryGetValue(type, out var own) ? own : Serializer;

    /// <summary>Serializes a payload with its manifest.</summary>
    /// <exception cref="UnregisteredEventTypeException">The payload's type has no manifest.</exception>
    public SerializedPayload Serialize(object payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var type = payload.GetType();
        return new SerializedPayload(Registry.ManifestOf(type), SerializerFor(type).Serialize(payload, type));
    }

    /// <summary>Binds actor refs read outside an ambient system (by stores, on replay) to <paramref name="system"/>.</summary>
    internal void BindTo(ActorSystem system)
    {
        if (Serializer is JsonEventSerializer json)
        {
            json.System ??= system;
        }
    }

    /// <summary>Reads a payload back.</summary>
    /// <exception cref="UnknownManifestException">The manifest is not registered.</exception>
    public object Deserialize(string manifest, ReadOnlySpan<byte> data)
    {
        var type = Registry.TypeOf(manifest);
        return SerializerFor(type).Deserialize(data, type);
    }
}
