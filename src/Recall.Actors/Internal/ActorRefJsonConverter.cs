using System.Text.Json;
using System.Text.Json.Serialization;

namespace Recall.Actors.Internal;

/// <summary>
/// Writes actor refs (<see cref="IActorRef"/>, <see cref="IActorRef{T}"/>, <see cref="IReplyTo{T}"/>)
/// inside messages, events and snapshots as their full path, and reads them back as refs of the
/// system that reads: its own actor, a remote ref, or a ref of nothing (dead letters). The reading
/// system is the ambient one of <see cref="Use"/>, else the one the converter was bound to.
/// </summary>
internal sealed class ActorRefJsonConverter : JsonConverterFactory
{
    [ThreadStatic]
    private static ActorSystem? t_current;

    /// <summary>The system refs resolve in when no ambient one is set.</summary>
    public ActorSystem? BoundSystem { get; set; }

    /// <summary>Makes <paramref name="system"/> the one refs resolve in on this thread until the scope is disposed.</summary>
    public static Scope Use(ActorSystem system)
    {
        var previous = t_current;
        t_current = system;
        return new Scope(previous);
    }

    public override bool CanConvert(Type typeToConvert) =>
        typeToConvert == typeof(IActorRef)
        || (typeToConvert.IsInterface && typeToConvert.IsGenericType
            && (typeToConvert.GetGenericTypeDefinition() == typeof(IActorRef<>) || typeToConvert.GetGenericTypeDefinition() == typeof(IReplyTo<>)));

    public override JsonConverter? CreateConverter(Type typeToConvert, JsonSerializerOptions options)
    {
        if (typeToConvert == typeof(IActorRef))
        {
            return new UntypedConverter(this);
        }

        var open = typeToConvert.GetGenericTypeDefinition() == typeof(IActorRef<>) ? typeof(TypedRefConverter<>) : typeof(ReplyToConverter<>);
        var converter = open.MakeGenericType(typeToConvert.GetGenericArguments()[0]);
        return (JsonConverter?)Activator.CreateInstance(converter, this);
    }

    private IActorRef Read(ref Utf8JsonReader reader)
    {
        var text = reader.GetString() ?? throw new JsonException("An actor ref is stored as its path, not null.");
        if (!ActorPath.TryParse(text, out var path))
        {
            throw new JsonException($"'{text}' is not an actor path.");
        }

        var system = t_current ?? BoundSystem
            ?? throw new JsonException($"The actor ref {text} cannot be read outside an actor system (the serializer is bound to none).");
        return system.ResolvePath(path);
    }

    private static void Write(Utf8JsonWriter writer, IActorRef actor)
    {
        if (actor is PromiseActorRef promise)
        {
            // A reply may come back from another process: make the pending ask reachable by path.
            promise.System.RegisterTempRef(promise);
        }

        writer.WriteStringValue(actor.Path.ToString());
    }

    /// <summary>Restores the previous ambient system.</summary>
    public readonly struct Scope(ActorSystem? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }

    private sealed class UntypedConverter(ActorRefJsonConverter owner) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => owner.Read(ref reader);

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) => ActorRefJsonConverter.Write(writer, value);
    }

    private sealed class TypedRefConverter<T>(ActorRefJsonConverter owner) : JsonConverter<IActorRef<T>>
    {
        public override IActorRef<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => owner.Read(ref reader).As<T>();

        public override void Write(Utf8JsonWriter writer, IActorRef<T> value, JsonSerializerOptions options) => ActorRefJsonConverter.Write(writer, value.Untyped);
    }

    private sealed class ReplyToConverter<T>(ActorRefJsonConverter owner) : JsonConverter<IReplyTo<T>>
    {
        public override IReplyTo<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => owner.Read(ref reader).As<T>();

        public override void Write(Utf8JsonWriter writer, IReplyTo<T> value, JsonSerializerOptions options) =>
            ActorRefJsonConverter.Write(writer, value is IActorRef<T> typed ? typed.Untyped : new PathOnly(value.Path));
    }

    /// <summary>A reply target that is not a ref of this library: only its path travels.</summary>
    private sealed class PathOnly(ActorPath path) : IActorRef
    {
        public ActorPath Path { get; } = path;

        public void Tell(object message, IActorRef? sender) => throw new NotSupportedException();
    }
}
