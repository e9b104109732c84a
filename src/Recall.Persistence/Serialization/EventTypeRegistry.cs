using System.Collections.Concurrent;
using System.Reflection;

namespace Recall.Persistence.Serialization;

/// <summary>
/// Names an event or snapshot type with a stable manifest, independent of its CLR name, so that
/// renaming or moving a class does not make old journals unreadable. Apply it, or register the
/// type with <c>EventTypeRegistry.Register</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class EventTypeAttribute(string manifest) : Attribute
{
    /// <summary>The stable manifest, e.g. <c>wallet.balance-changed.v1</c>.</summary>
    public string Manifest { get; } = manifest;
}

/// <summary>
/// The two-way map between CLR types and manifests. Types are registered explicitly
/// (<see cref="Register(Type, string)"/>, or <see cref="RegisterAssembly"/> for every attributed
/// type of an assembly) or found through <see cref="EventTypeAttribute"/> on the type itself the
/// first time it is persisted. On replay a manifest resolves only to a type registered (or
/// persisted) before, so register what a fresh process may replay before recovery starts.
/// </summary>
public sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<Type, string> _manifests = new();
    private readonly ConcurrentDictionary<string, Type> _types = new(StringComparer.Ordinal);
    private readonly Lock _registering = new();

    /// <summary>Creates a registry that knows the built-in manifests of common primitive types.</summary>
    public EventTypeRegistry()
    {
        Register<string>("string");
        Register<int>("int32");
        Register<long>("int64");
        Register<double>("double");
        Register<decimal>("decimal");
        Register<bool>("bool");
        Register<Guid>("guid");
    }

    /// <summary>Registers <typeparamref name="T"/> under <paramref name="manifest"/>.</summary>
    public EventTypeRegistry Register<T>(string manifest) => Register(typeof(T), manifest);

    /// <summary>Registers <typeparamref name="T"/> under the manifest of its <see cref="EventTypeAttribute"/>.</summary>
    public EventTypeRegistry Register<T>() => Register<T>(AttributeManifest(typeof(T))
        ?? throw new ArgumentException($"{typeof(T).FullName} has no [EventType] attribute; pass a manifest."));

    /// <summary>
    /// Registers every type of <paramref name="assembly"/> that has an <see cref="EventTypeAttribute"/>.
    /// Call it at startup for the assemblies that hold your events and snapshots, so that a fresh
    /// process can replay them. This is the only place Recall scans an assembly.
    /// </summary>
    public EventTypeRegistry RegisterAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var type in assembly.GetTypes())
        {
            if (AttributeManifest(type) is { } manifest)
            {
                Register(type, manifest);
            }
        }

        return this;
    }

    /// <summary>Registers the attributed types of the assembly that defines <typeparamref name="T"/>.</summary>
    public EventTypeRegistry RegisterAssemblyOf<T>() => RegisterAssembly(typeof(T).Assembly);

    /// <summary>Registers <paramref name="type"/> under <paramref name="manifest"/>.</summary>
    /// <exception cref="ArgumentException">The type or manifest is already registered differently.</exception>
    public EventTypeRegistry Register(Type type, string manifest)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentException.ThrowIfNullOrWhiteSpace(manifest);
        // Both checks come before either write, under one lock: a registration that throws must leave
        // no half (a manifest resolving to a type whose manifest is another one would replay silently
        // as the wrong name). Registration is rare; lookups stay lock-free.
        lock (_registering)
        {
            if (_types.TryGetValue(manifest, out var existingType) && existingType != type)
            {
                throw new ArgumentException($"Manifest '{manifest}' is already registered for {existingType.FullName}; it cannot also name {type.FullName}.");
            }

            if (_manifests.TryGetValue(type, out var existingManifest) && existingManifest != manifest)
            {
                throw new ArgumentException($"{type.FullName} is already registered as '{existingManifest}'; it cannot also be '{manifest}'.");
            }

            _types[manifest] = type;
            _manifests[type] = manifest;
        }

        return this;
    }

    /// <summary>The manifest of <paramref name="type"/>.</summary>
    /// <exception cref="UnregisteredEventTypeException">The type is neither registered nor attributed.</exception>
    public string ManifestOf(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (_manifests.TryGetValue(type, out var manifest))
        {
            return manifest;
        }

        var attributed = AttributeManifest(type) ?? throw new UnregisteredEventTypeException(type);
        Register(type, attributed);
        return attributed;
    }

    /// <summary>The type registered under <paramref name="manifest"/>.</summary>
    /// <exception cref="UnknownManifestException">No type has that manifest.</exception>
    public Type TypeOf(string manifest) =>
        _types.TryGetValue(manifest, out var type) ? type : throw new UnknownManifestException(manifest);

    /// <summary>Whether <paramref name="manifest"/> is known.</summary>
    public bool IsKnown(string manifest) => _types.ContainsKey(manifest);

    private static string? AttributeManifest(Type type) => type.GetCustomAttribute<EventTypeAttribute>(inherit: false)?.Manifest;
}

/// <summary>A type was persisted that has no manifest: register it or give it [EventType].</summary>
public sealed class UnregisteredEventTypeException(Type type)
    : Exception($"{type.FullName} has no manifest: mark it [EventType(\"...\")] or register it with PersistenceOptions.Events.Register<{type.Name}>(\"...\").")
{
    /// <summary>The type without a manifest.</summary>
    public Type Type { get; } = type;
}

/// <summary>A stored manifest names no registered type.</summary>
public sealed class UnknownManifestException(string manifest)
    : Exception($"Manifest '{manifest}' is not registered: register the type it names (PersistenceOptions.Events.Register) before recovery.")
{
    /// <summary>The unknown manifest.</summary>
    public string Manifest { get; } = manifest;
}
