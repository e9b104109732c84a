using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Recall.Actors;
using Recall.Cluster.Hosting;
using Recall.Hosting;
using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;
using Recall.TestKit;

namespace Recall.Cluster.Tests;

/// <summary>Shard regions in .NET hosts: AddCluster joins with the host and leaves when it stops; AddShardRegion starts a region with DI-created entities.</summary>
[Collection(Timing.Collection)]
public sealed class HostingTests
{
    /// <summary>A service the entities get from the container.</summary>
    public sealed class Greeting
    {
        public string Text => "hello";
    }

    /// <summary>A sharded entity made by the container: its id from the shard, its service from DI.</summary>
    public sealed class Greeter(string entityId, Greeting greeting) : Actor
    {
        protected override void Receive(object message) => Sender.Tell($"{greeting.Text} from {entityId} on {Context.System.Name}", Self);
    }

    private static IHost NewHost(string name, IMembershipStore members, ILeaseStore leases, IShardStore shards)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<Greeting>();
        builder.Services.AddRecall(o => o.SystemName = name)
            .AddCluster((_, c) => c.Listen("127.0.0.1", 0).UseMembershipStore(members).UseLeaseStore(leases).UseShardStore(shards))
            .AddShardRegion<Greeter>("greeter", new HashCodeExtractor(), new Sharding.ShardingSettings { RetryInterval = TimeSpan.FromMilliseconds(200) });
        return builder.Build();
    }

    private sealed class HashCodeExtractor() : Sharding.HashCodeMessageExtractor(10);

    [Fact]
    public async Task A_hosted_node_joins_serves_its_region_and_leaves_when_the_host_stops()
    {
        var members = new InMemoryMembershipStore();
        var leases = new InMemoryLeaseStore();
        var shards = new InMemoryShardStore();
        using var first = NewHost("first", members, leases, shards);
        using var second = NewHost("second", members, leases, shards);
        await first.StartAsync();
        await second.StartAsync();

        var region = first.Services.GetRequiredKeyedService<IActorRef>("greeter");
        var answer = await region.Ask<string>(new Sharding.ShardingEnvelope("ann", "hi"), TestKitSettings.Dilated(TimeSpan.FromSeconds(20)));
        Assert.StartsWith("hello from ann on ", answer, StringComparison.Ordinal);
        Assert.Equal(2, (await members.ReadAllAsync(default)).Count(m => m.Status == MemberStatus.Up));

        await second.StopAsync();

        var rows = await members.ReadAllAsync(default);
        Assert.Equal(MemberStatus.Removed, rows.Single(m => m.Address == second.Services.GetRequiredService<ActorSystem>().Address.ToString()).Status);
        Assert.Equal("hello from bob on first", await region.Ask<string>(new Sharding.ShardingEnvelope("bob", "hi"), TestKitSettings.Dilated(TimeSpan.FromSeconds(20))));
        await first.StopAsync();
    }
}
