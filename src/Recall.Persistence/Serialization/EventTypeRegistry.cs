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
/// type of an assembly) or found through <see cref="EventTypeAttribute"/>: on the type itself the
/// first time it is written, and, for a manifest read that nothing registered, among the types of
/// the loaded assemblies that reference Recall.Persistence (searched once per assembly). Register
/// types of assemblies that may not be loaded yet when a process starts reading.
/// </summary>
public sealed class EventTypeRegistry
{
    private readonly ConcurrentDictionary<Type, string> _manifests = new();
    private readonly ConcurrentDictionary<string, Type> _types = new(StringComparer.Ordinal);
    private readonly Lock _registering = new();
    private readonly HashSet<Assembly> _searched = [];
    private readonly Dictionary<string, List<Type>> _pending = new(StringComparer.Ordinal); // attributed types found, not yet asked for

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
        Register<Delivery.AtLeastOnceDeliverySnapshot>("recall.delivery-snapshot.v1");
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
    /// <exception cref="AmbiguousManifestException">Two attributed types of the loaded assemblies claim the manifest.</exception>
    public Type TypeOf(string manifest) =>
        _types.TryGetValue(manifest, out var type) ? type : Discover(manifest) ?? throw new UnknownManifestException(manifest);

    /// <summary>Whether <paramref name="manifest"/> is known.</summary>
    public bool IsKnown(string manifest) => _types.ContainsKey(manifest);

    /// <summary>The attributed type of a loaded assembly with this manifest, registered; null when there is none.</summary>
    private Type? Discover(string manifest)
    {
        var persistence = typeof(EventTypeAttribute).Assembly;
        List<Type> claims = [];
        lock (_registering)
        {
            if (_types.TryGetValue(manifest, out var known))
            {
                return known;
            }

            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                if (assembly.IsDynamic || !_searched.Add(assembly) || (assembly != persistence && !References(assembly, persistence)))
                {
                    continue;
                }

                foreach (var type in LoadableTypes(assembly))
                {
                    if (AttributeManifest(type) is { } attributed && !_types.ContainsKey(attributed) && !_manifests.ContainsKey(type))
                    {
                        _pending.TryAdd(attributed, []);
                        _pending[attributed].Add(type);
                    }
                }
            }

            if (!_pending.TryGetValue(manifest, out var candidates))
            {
                return null;
            }

            claims.AddRange(candidates);
        }

        if (claims.Count > 1)
        {
            throw new AmbiguousManifestException(manifest, claims);
        }

        Register(claims[0], manifest);
        return claims[0];
    }

    private static bool References(Assembly assembly, Assembly persistence)
    {
        var name = persistence.GetName().Name;
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (string.Equals(reference.Name, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException exception)
        {
            return exception.Types.OfType<Type>();
        }
    }

    private static string? AttributeManifest(Type type) => type.GetCustomAttribute<EventTypeAttribute>(inherit: false)?.Manifest;
}

/// <summary>A type was persisted that has no manifest: register it or give it [EventType].</summary>
public sealed class UnregisteredEventTypeException(Type type)
    : Exception($"{type.FullName} has no manifest: mark it [EventType(\"...\")] or register it with PersistenceOptions.Events.Register<{type.Name}>(\"...\").")
{
    /// <summary>The type without a manifest.</summary>
    public Type Type { get; } = type;
}

/// <summary>Two attributed types claim one manifest, so a stored value of it cannot be read back safely.</summary>
public sealed class AmbiguousManifestException(string manifest, IReadOnlyList<Type> types)
    : Exception($"Manifest '{manifest}' is claimed by [EventType] on {string.Join(" and ", types.Select(t => t.FullName))}: give each a manifest of its own, or register the right one (PersistenceOptions.Events.Register) before reading.")
{
    /// <summary>The manifest.</summary>
    public string Manifest { get; } = manifest;

    /// <summary>The types that claim it.</summary>
    public IReadOnlyList<Type> Types { get; } = types;
}

/// <summary>A stored manifest names no registered type.</summary>
public sealed class UnknownManifestException(string manifest)
    : Exception($"Manifest '{manifest}' is not registered and no [EventType(\"{manifest}\")] type is loaded: register the type it names (PersistenceOptions.Events.Register<T>(\"{manifest}\"), or Events.RegisterAssemblyOf<T>() for an assembly not loaded yet) before recovery.")
{
    /// <summary>The unknown manifest.</summary>
    public string Manifest { get; } = manifest;
}
