using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Recall.Actors;
using Recall.Persistence;
using Recall.Projections;

namespace Recall.Hosting;

/// <summary>Returned by <c>services.AddRecall(...)</c>: adds the stores the host can run on and registers the top-level actors it starts.</summary>
public sealed class RecallBuilder
{
    internal RecallBuilder(IServiceCollection services, IConfiguration? configuration)
    {
        Services = services;
        Configuration = configuration;
    }

    /// <summary>The service collection Recall was added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The configuration section given to <c>AddRecall</c> (usually <c>Recall</c>), or null when it was configured in code only: a store binds its settings from its <see cref="RecallStore.Section"/> of it.</summary>
    public IConfiguration? Configuration { get; }

    /// <summary>
    /// Adds a store the host can run on: <c>Recall:Store</c> chooses it by one of its names, or, when
    /// configuration names none, the store added last runs. The stores' packages call this from their
    /// own methods (<c>UseSqlite</c>, <c>UsePostgreSql</c>).
    /// </summary>
    public RecallBuilder AddStore(RecallStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Services.AddSingleton(store);
        return this;
    }

    /// <summary>
    /// Spawns a top-level actor named <paramref name="name"/> when the host starts, created by
    /// <see cref="ActorDependencyResolver"/>: its constructor's services come from the container,
    /// the rest from <paramref name="arguments"/>. Get its ref from <see cref="ActorRegistry"/> or
    /// as the keyed service <c>[FromKeyedServices(name)] IActorRef</c>. A persistent actor runs
    /// under a backoff supervisor that starts it again whenever it stops (see
    /// <see cref="HostedActorOptions.Restart"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty or already registered.</exception>
    public RecallBuilder AddActor<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TActor>(string name, params object[] arguments)
        where TActor : Actor =>
        AddActor<TActor>(name, _ => { }, arguments);

    /// <summary>
    /// As <see cref="AddActor{TActor}(string, object[])"/>, with <paramref name="configure"/> changing
    /// how the host keeps it alive (restart with backoff or not, the backoff, whether the host
    /// stops when it is gone for good).
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty or already registered, or the backoff settings are wrong.</exception>
    public RecallBuilder AddActor<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TActor>(string name, Action<HostedActorOptions> configure, params object[] arguments)
        where TActor : Actor
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(arguments);
        var options = new HostedActorOptions { Restart = IsPersistent(typeof(TActor)) };
        configure(options);
        return Add(new ActorRegistration(name, typeof(TActor), options, services => services.GetRequiredService<ActorSystem>().DependencyResolver().Props<TActor>(arguments)));
    }

    /// <summary>
    /// Spawns a top-level actor named <paramref name="name"/> when the host starts, with the props
    /// <paramref name="props"/> makes. It is not restarted with backoff unless
    /// <paramref name="configure"/> sets <see cref="HostedActorOptions.Restart"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty or already registered, or the backoff settings are wrong.</exception>
    public RecallBuilder AddActor(string name, Func<IServiceProvider, Props> props, Action<HostedActorOptions>? configure = null)
    {
        CheckName(name);
        ArgumentNullException.ThrowIfNull(props);
        var options = new HostedActorOptions();
        configure?.Invoke(options);
        return Add(new ActorRegistration(name, null, options, props));
    }

    /// <summary>
    /// Starts the projection <paramref name="projection"/> makes when the host starts, after the
    /// registered actors; it stops with the actor system. Manage it through the
    /// <see cref="ProjectionRegistry"/> service (<c>Find(name, key)</c>). Needs a store
    /// (one added, <c>Recall:Store</c> = <c>memory</c>, or <c>UsePersistence</c>).
    /// </summary>
    public RecallBuilder AddProjection(Func<IServiceProvider, Projection> projection)
    {
        ArgumentNullException.ThrowIfNull(projection);
        Services.AddSingleton(new ProjectionRegistration(projection));
        return this;
    }

    private static bool IsPersistent(Type type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            if (current == typeof(PersistentActor) || (current.IsGenericType && current.GetGenericTypeDefinition() == typeof(EventSourcedActor<,,>)))
            {
                return true;
            }
        }

        return false;
    }

    private void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        foreach (var descriptor in Services)
        {
            if (descriptor.ServiceType == typeof(ActorRegistration)
                && descriptor.ImplementationInstance is ActorRegistration existing
                && existing.Name == name)
            {
                throw new ArgumentException($"An actor named '{name}' is already registered.", nameof(name));
            }
        }
    }

    private RecallBuilder Add(ActorRegistration registration)
    {
        registration.Options.Validate(registration.Name);
        Services.AddSingleton(registration);
        var name = registration.Name;
        Services.AddKeyedSingleton<IActorRef>(name, (services, _) => services.GetRequiredService<ActorRegistry>().Get(name));
        return this;
    }
}
