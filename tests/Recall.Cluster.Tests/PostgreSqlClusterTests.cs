using System.Collections.Concurrent;
using Recall.Actors;
using Recall.Persistence.Membership;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.PostgreSql.Tests;
using Recall.TestKit;

// The PostgreSQL tests of this assembly skip (or, under RECALL_REQUIRE_POSTGRES=1, fail) without a
// server, exactly as those of Recall.Persistence.PostgreSql.Tests do.
[assembly: TestFramework("Recall.Persistence.PostgreSql.Tests.PostgresTestFramework", "Recall.Persistence.PostgreSql.Tests")]

namespace Recall.Cluster.Tests;

/// <summary>In-process nodes on a real PostgreSQL: members, leases and the journal in one schema.</summary>
[Collection(Timing.Collection)]
[RequiresPostgres]
public sealed class PostgreSqlClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));
    private readonly string _schema = PostgresServer.NewSchema("cluster");
    private readonly List<ActorSystem> _nodes = [];
    private readonly List<IAsyncDisposable> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.TerminateAsync();
        }

        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await PostgresServer.DropSchemaAsync(_schema);
    }

    [Fact]
    public async Task Nodes_join_through_postgresql_a_singleton_runs_once_and_moves_when_its_node_leaves()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        var proxyA = a.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));
        var proxyB = b.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));
        var first = (await proxyB.Ask<Here>(new WhereAreYou(), Timeout)).Node;
        Assert.Equal(first, (await proxyA.Ask<Here>(new WhereAreYou(), Timeout)).Node);
        await EventuallyAsync(() => a.Cluster().Members.Count(m => m.Status == MemberStatus.Up) == 2 && b.Cluster().Members.Count(m => m.Status == MemberStatus.Up) == 2);

        var leaving = first == a.Address.ToString() ? a : b;
        var staying = leaving == a ? b : a;
        var stayingProxy = leaving == a ? proxyB : proxyA;
        await leaving.Cluster().LeaveAsync();

        var deadline = DateTime.UtcNow + Timeout;
        string? now = null;
        while (now != staying.Address.ToString())
        {
            Assert.True(DateTime.UtcNow < deadline, "the singleton did not move to the staying node");
            try
            {
                now = (await stayingProxy.Ask<Here>(new WhereAreYou(), TimeSpan.FromSeconds(2))).Node;
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
            }
        }

        await using (var inspector = await PostgreSqlJournalInspector.OpenAsync(PostgresServer.Required, _schema))
        {
            var rows = await inspector.MembersAsync();
            Assert.Equal(MemberStatus.Removed, rows.Single(m => m.Address == leaving.Address.ToString()).Status);
            Assert.Equal(MemberStatus.Up, rows.Single(m => m.Address == staying.Address.ToString()).Status);
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(50);
        }
    }

    private async Task<ActorSystem> NodeAsync(string name)
    {
        var options = PostgresServer.Options(_schema);
        var members = new PostgreSqlMembershipStore(options);
        var leases = new PostgreSqlLeaseStore(options);
        _stores.Add(members);
        _stores.Add(leases);
        var node = ActorSystem.Create(name, o => o.UseCluster(c =>
        {
            c.Listen("127.0.0.1", 0).UseMembershipStore(members).UseLeaseStore(leases);
            c.SingletonRetryInterval = TimeSpan.FromMilliseconds(200);
        }));
        _nodes.Add(node);
        await node.Cluster().JoinAsync();
        return node;
    }
}
