using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Journal;
using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;

namespace Recall.Cluster.Tests;

/// <summary>Cluster nodes in this process on free loopback ports, sharing a membership store and a lease store (and a journal, when given).</summary>
internal sealed class TestCluster(ILeaseStore leases, IJournal? journal = null, IMembershipStore? members = null, IShardStore? shards = null) : IAsyncDisposable
{
    private readonly List<ActorSystem> _nodes = [];

    /// <summary>The shared membership store.</summary>
    public IMembershipStore Members { get; } = members ?? new InMemoryMembershipStore();

    /// <summary>The shared shard store.</summary>
    public IShardStore Shards { get; } = shards ?? new InMemoryShardStore();

    /// <summary>The nodes started so far.</summary>
    public IReadOnlyList<ActorSystem> Nodes => _nodes;

    /// <summary>A node that has joined the cluster.</summary>
    public async Task<ActorSystem> NodeAsync(string name, ILeaseStore? ownView = null, Action<ClusterOptions>? configure = null, Action<ActorSystemOptions>? system = null)
    {
        var node = ActorSystem.Create(name, o =>
        {
            if (Environment.GetEnvironmentVariable("RECALL_TEST_LOG") == "1")
            {
                o.LoggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Debug));
            }

            if (journal is not null)
            {
                o.UsePersistence(p => p.UseJournal(journal));
            }

            system?.Invoke(o);

            o.UseCluster(c =>
            {
                c.Listen("127.0.0.1", 0).UseLeaseStore(ownView ?? leases).UseMembershipStore(Members).UseShardStore(Shards);
                c.Lease = new LeaseOptions { Duration = TimeSpan.FromSeconds(3) };
                c.SingletonRetryInterval = TimeSpan.FromMilliseconds(200);
                configure?.Invoke(c);
            });
        });
        _nodes.Add(node);
        await node.Cluster().JoinAsync();
        return node;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.TerminateAsync();
        }
    }
}

/// <summary>Waiting for what other nodes make true.</summary>
internal static class Wait
{
    /// <summary>The generous limit of a wait: conditions normally hold within seconds.</summary>
    public static readonly TimeSpan Timeout = Recall.TestKit.TestKitSettings.Dilated(TimeSpan.FromSeconds(30));

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <see cref="Timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {Timeout.TotalSeconds} s waiting until {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <see cref="Timeout"/>.</summary>
    public static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);
}
