using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Hosting;

namespace Recall.Cluster.Hosting;

/// <summary>The cluster in a .NET host: <c>services.AddRecall(...).AddCluster(...).AddShardRegion&lt;T&gt;(...)</c>.</summary>
public static class ClusterRecallBuilderExtensions
{
    /// <summary>
    /// Makes the host's actor system a cluster node, configured by <paramref name="configure"/> with
    /// the container at hand (for stores and certificates). The node joins when the host starts
    /// (after the registered actors are spawned, before any hosted service's <c>StartAsync</c>), then
    /// the shard regions start; when the host stops, the node leaves gracefully (its shards and
    /// singletons are handed over first).
    /// </summary>
    public static RecallBuilder AddCluster(this RecallBuilder builder, Action<IServiceProvider, ClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddSingleton<IConfigureOptions<RecallOptions>>(services =>
            new ConfigureOptions<RecallOptions>(o => o.ConfigureActorSystem(system => system.UseCluster(cluster => configure(services, cluster)))));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ClusterHostedService>());
        return builder;
    }

    /// <summary>
    /// Starts the sharded entity type <paramref name="typeName"/> when the host starts: entity
    /// <c>id</c> is a <typeparamref name="TEntity"/> created with its constructor's services from the
    /// container and <c>id</c> (a string) for the rest. Get the region as the keyed service
    /// <c>[FromKeyedServices(typeName)] IActorRef</c>. Needs <see cref="AddCluster"/>.
    /// </summary>
    public static RecallBuilder AddShardRegion<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TEntity>(this RecallBuilder builder, string typeName, IMessageExtractor extractor, ShardingSettings? settings = null)
        where TEntity : Actor
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(typeName);
        ArgumentNullException.ThrowIfNull(extractor);
        return AddRegion(builder, new ShardRegionRegistration(typeName, system => system.Sharding().Start(typeName, id => system.DependencyResolver().Props<TEntity>(id), extractor, settings)));
    }

    /// <summary>Starts a region of <paramref name="typeName"/> that only sends to the nodes hosting it; the keyed service <c>[FromKeyedServices(typeName)] IActorRef</c>.</summary>
    public static RecallBuilder AddShardRegionProxy(this RecallBuilder builder, string typeName, IMessageExtractor extractor, ShardingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(typeName);
        ArgumentNullException.ThrowIfNull(extractor);
        return AddRegion(builder, new ShardRegionRegistration(typeName, system => system.Sharding().StartProxy(typeName, extractor, settings)));
    }

    private static RecallBuilder AddRegion(RecallBuilder builder, ShardRegionRegistration registration)
    {
        builder.Services.AddSingleton(registration);
        builder.Services.AddKeyedSingleton<IActorRef>(registration.TypeName, (services, _) => services.GetRequiredService<ActorSystem>().Sharding().Region(registration.TypeName));
        return builder;
    }
}

/// <summary>A shard region to start once the node joined.</summary>
internal sealed record ShardRegionRegistration(string TypeName, Func<ActorSystem, IActorRef> Start);

/// <summary>Joins when the host starts (then starts the shard regions); leaves gracefully when it stops.</summary>
internal sealed class ClusterHostedService(IServiceProvider services) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var system = services.GetRequiredService<ActorSystem>();
        await system.Cluster().JoinAsync(cancellationToken);
        foreach (var region in services.GetServices<ShardRegionRegistration>())
        {
            region.Start(system);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Before the other services stop: the shards move while the rest of the cluster can still reach this node.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken) =>
        services.GetRequiredService<ActorSystem>().Cluster().LeaveAsync().WaitAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
