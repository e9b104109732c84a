using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Recall.Actors;

namespace Recall.Hosting;

/// <summary>
/// Creates <see cref="Props"/> whose actors get their constructor arguments from the host's
/// service container (through <see cref="ActivatorUtilities"/>), plus any given explicitly.
/// Reach it with <c>system.DependencyResolver()</c>, also from inside an actor
/// (<c>Context.System.DependencyResolver()</c>) to spawn children the same way.
/// </summary>
/// <remarks>
/// Services are resolved from the root provider each time an instance is created (on start and on
/// every restart), so an actor gets singletons and transients. An actor lives longer than any
/// request: for scoped services (a DbContext) inject <see cref="IServiceScopeFactory"/> and create
/// a scope per message.
/// </remarks>
public sealed class ActorDependencyResolver
{
    private readonly ConcurrentDictionary<(Type Actor, string Arguments), ObjectFactory> _factories = new();

    internal ActorDependencyResolver(IServiceProvider services) => Services = services;

    /// <summary>The container the actors' dependencies come from.</summary>
    public IServiceProvider Services { get; }

    /// <summary>
    /// Props of <typeparamref name="TActor"/>, created with its public constructor: parameters whose
    /// type matches one of <paramref name="arguments"/> take that value, the others come from the container.
    /// </summary>
    /// <param name="arguments">Values that are not services, such as an id; not null.</param>
    /// <exception cref="ArgumentException">An argument is null.</exception>
    public Props Props<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TActor>(params object[] arguments)
        where TActor : Actor => Props(typeof(TActor), arguments);

    /// <summary>Props of <paramref name="actorType"/>, as <see cref="Props{TActor}"/>.</summary>
    /// <param name="actorType">A subclass of <see cref="Actor"/> with a public constructor.</param>
    /// <param name="arguments">Values that are not services, such as an id; not null.</param>
    /// <exception cref="ArgumentException">The type is not an actor, or an argument is null.</exception>
    public Props Props([DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] Type actorType, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(actorType);
        ArgumentNullException.ThrowIfNull(arguments);
        if (!typeof(Actor).IsAssignableFrom(actorType) || actorType.IsAbstract)
        {
            throw new ArgumentException($"{actorType.FullName} is not a concrete subclass of Actor.", nameof(actorType));
        }

        var types = new Type[arguments.Length];
        for (var i = 0; i < arguments.Length; i++)
        {
            types[i] = arguments[i]?.GetType() ?? throw new ArgumentException(
                $"Argument {i} for {actorType.Name} is null: its type cannot be matched to a constructor parameter. Pass a value, or let the container provide it.",
                nameof(arguments));
        }

        // Building a factory looks the constructor up once; actors of one type are often spawned by the thousand.
        var factory = _factories.GetOrAdd(
            (actorType, string.Join(',', types.Select(t => t.AssemblyQualifiedName))),
            _ => ActivatorUtilities.CreateFactory(actorType, types));
        var services = Services;
        return Actors.Props.Create(() => (Actor)factory(services, arguments));
    }
}

/// <summary>Reaches the <see cref="ActorDependencyResolver"/> of a hosted actor system.</summary>
public static class ActorDependencyResolverExtensions
{
    /// <summary>The dependency resolver of <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">The system was not created by <c>AddRecall</c>.</exception>
    public static ActorDependencyResolver DependencyResolver(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<ActorDependencyResolver>() ?? throw new InvalidOperationException(
            $"Actor system '{system.Name}' has no dependency resolver: it was not created by services.AddRecall(...).");
    }
}
