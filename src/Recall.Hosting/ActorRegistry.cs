using System.Diagnostics.CodeAnalysis;
using Recall.Actors;
using Recall.Projections;

namespace Recall.Hosting;

/// <summary>
/// The top-level actors registered with <see cref="RecallBuilder.AddActor{TActor}(string, object[])"/>, spawned
/// under <c>/user</c> when the host starts (or when the registry is first resolved, if earlier).
/// Inject it to get their refs: <c>registry.Get("wallets")</c>. Each is also a keyed
/// <see cref="IActorRef"/> service: <c>[FromKeyedServices("wallets")] IActorRef wallets</c>.
/// </summary>
public sealed class ActorRegistry
{
    private readonly Dictionary<string, (IActorRef Actor, Type? Type)> _actors = new(StringComparer.Ordinal);

    internal ActorRegistry(ActorSystem system, IServiceProvider services, IEnumerable<ActorRegistration> registrations)
    {
        foreach (var registration in registrations)
        {
            var actor = system.Spawn(registration.Options.Apply(registration.Name, registration.CreateProps(services)), registration.Name);
            _actors.Add(registration.Name, (actor, registration.ActorType));
            if (registration.Options.Critical)
            {
                Critical.Add(registration.Name, actor);
            }
        }
    }

    /// <summary>The actors whose end stops the host, by name.</summary>
    internal Dictionary<string, IActorRef> Critical { get; } = new(StringComparer.Ordinal);

    /// <summary>The names of the registered actors.</summary>
    public IReadOnlyCollection<string> Names => _actors.Keys;

    /// <summary>The actor registered as <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No actor has that name.</exception>
    public IActorRef Get(string name) =>
        TryGet(name, out var actor) ? actor : throw new KeyNotFoundException(
            $"No actor named '{name}' is registered; register it with services.AddRecall(...).AddActor<TActor>(\"{name}\"). Registered: {string.Join(", ", _actors.Keys)}.");

    /// <summary>The one actor registered with type <typeparamref name="TActor"/>.</summary>
    /// <exception cref="KeyNotFoundException">None, or more than one, is registered with that type.</exception>
    public IActorRef Get<TActor>()
        where TActor : Actor
    {
        var matches = _actors.Where(a => a.Value.Type == typeof(TActor)).Select(a => a.Value.Actor).Take(2).ToList();
        return matches.Count == 1 ? matches[0] : throw new KeyNotFoundException(
            matches.Count == 0
                ? $"No actor of type {typeof(TActor).Name} is registered; register it with services.AddRecall(...).AddActor<{typeof(TActor).Name}>(name)."
                : $"Several actors of type {typeof(TActor).Name} are registered; get them by name.");
    }

    /// <summary>The actor registered as <paramref name="name"/>, if any.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out IActorRef? actor)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_actors.TryGetValue(name, out var found))
        {
            actor = found.Actor;
            return true;
        }

        actor = null;
        return false;
    }
}

/// <summary>A top-level actor to spawn at start: its name, its type when known, and how to make its props.</summary>
internal sealed record ActorRegistration(string Name, Type? ActorType, HostedActorOptions Options, Func<IServiceProvider, Props> CreateProps);

/// <summary>A projection <c>AddProjection</c> registered, started with the host.</summary>
internal sealed record ProjectionRegistration(Func<IServiceProvider, Projection> Create);
