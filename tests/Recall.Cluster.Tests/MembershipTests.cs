using System.Collections.Concurrent;
using System.Threading.Channels;
using Recall.Actors;
using Recall.Cluster.Membership;
using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.PostgreSql;
using Recall.TestKit;

namespace Recall.Cluster.Tests;

[Collection(Timing.Collection)]
public sealed class MembershipTests
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(20));

    /// <summary>
    /// Faster failure detection for in-process nodes: heartbeats every 300 ms, Down after 3 s of
    /// silence. Not shorter: a test machine busy with other tests can stall a process for a second,
    /// and a node that cannot renew in time rightly stops itself.
    /// </summary>
    private static void Fast(ClusterOptions c)
    {
        c.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
        c.DownAfter = TimeSpan.FromSeconds(3);
    }

    [Fact]
    public async Task Nodes_join_as_up_members_with_their_roles_and_every_node_sees_every_join()
    {
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var a = await cluster.NodeAsync("a", configure: c => c.WithRoles("web"));
        var events = Collect(a.Cluster().Events);

        var b = await cluster.NodeAsync("b", configure: c => c.WithRoles("ledger", "web"));

        var seen = await events.NextAsync(e => e.Member.Address == b.Address && e.Member.Status == MemberStatus.Up);
        Assert.Equal(["ledger", "web"], seen.Member.Roles);
        await EventuallyAsync(() => b.Cluster().Members.Count == 2 && a.Cluster().Members.Count == 2);
        Assert.All(b.Cluster().Members, m => Assert.Equal(MemberStatus.Up, m.Status));
        Assert.Equal(b.Address, b.Cluster().SelfMember!.Address);
        Assert.True(a.Cluster().Members.Single(m => m.Address == a.Address).HasRole("web"));
        Assert.True(a.Cluster().IsUp);
    }

    [Fact]
    public async Task A_subscriber_gets_the_current_members_then_every_change_and_a_stream_starts_with_them_too()
    {
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var a = await cluster.NodeAsync("a");
        var probe = new TestProbe(a);
        a.Cluster().Subscribe(probe.Ref);

        var current = await probe.ExpectMsgAsync<MemberEvent>(timeout: Timeout);
        Assert.Equal((a.Address, MemberStatus.Up, (MemberStatus?)null), (current.Member.Address, current.Member.Status, current.Previous));
        var b = await cluster.NodeAsync("b");
        var joined = await probe.FishForMessageAsync<MemberEvent>(e => e.Member.Address == b.Address && e.Member.Status == MemberStatus.Up, Timeout);
        Assert.Equal(b.Address, joined.Member.Address);

        var stream = Collect(b.Cluster().Events);
        Assert.Equal(new[] { a.Address, b.Address }.OrderBy(x => x.ToString(), StringComparer.Ordinal), new[] { (await stream.NextAsync(_ => true)).Member.Address, (await stream.NextAsync(_ => true)).Member.Address }.OrderBy(x => x.ToString(), StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_leaving_node_goes_through_leaving_exiting_and_removed_and_its_system_terminates()
    {
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var stays = await cluster.NodeAsync("stays");
        var leaves = await cluster.NodeAsync("leaves");
        var own = Collect(leaves.Cluster().Events);
        await EventuallyAsync(() => stays.Cluster().Members.Count == 2, () => string.Join(", ", stays.Cluster().Members) + " terminated " + stays.WhenTerminated.IsCompleted);

        await leaves.Cluster().LeaveAsync();

        Assert.True(leaves.WhenTerminated.IsCompleted);
        var statuses = new List<MemberStatus>();
        while (statuses.LastOrDefault() != MemberStatus.Removed)
        {
            statuses.Add((await own.NextAsync(e => e.Member.Address == leaves.Address && e.Previous is not null)).Member.Status);
        }

        Assert.Equal([MemberStatus.Leaving, MemberStatus.Exiting, MemberStatus.Removed], statuses);
        Assert.True(await own.EndsAsync(), "the stream ends when the system terminates");
        await EventuallyAsync(() => stays.Cluster().Members.Count == 1, () => string.Join(", ", stays.Cluster().Members) + " terminated " + stays.WhenTerminated.IsCompleted);
        var row = (await cluster.Members.ReadAllAsync(default)).Single(m => m.Address == leaves.Address.ToString());
        Assert.Equal(MemberStatus.Removed, row.Status);
    }

    [Fact]
    public async Task A_silent_node_is_marked_down_by_the_others_terminates_itself_and_its_watchers_get_terminated()
    {
        var store = new SilenceableMembershipStore();
        await using var cluster = new TestCluster(new InMemoryLeaseStore(), members: store);
        var watcherNode = await cluster.NodeAsync("watcher", configure: Fast);
        var silent = await cluster.NodeAsync("silent", configure: Fast);
        silent.Spawn(Props.Create(() => new Idle()), "worker");
        var worker = await watcherNode.ResolveAsync($"{silent.Address}/user/worker", Timeout);
        var probe = new TestProbe(watcherNode);
        probe.Watch(worker);
        var events = Collect(watcherNode.Cluster().Events);

        store.Silence(silent.Address.ToString()); // its heartbeats hang: to the others it has gone quiet

        var down = await events.NextAsync(e => e.Member.Address == silent.Address && e.Member.Status == MemberStatus.Down);
        Assert.Equal(MemberStatus.Up, down.Previous);
        Assert.Equal(worker, (await probe.ExpectMsgAsync<Terminated>(timeout: Timeout)).Actor);
        await silent.WhenTerminated.WaitAsync(Timeout); // it could not renew, so it stopped itself: no zombie
        Assert.Equal(MemberStatus.Down, watcherNode.Cluster().Members.Single(m => m.Address == silent.Address).Status);
    }

    [Fact]
    public async Task A_node_that_finds_itself_out_of_the_cluster_terminates_its_system()
    {
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var node = await cluster.NodeAsync("node", configure: Fast);
        var self = node.Cluster().SelfMember!;

        await cluster.Members.SetStatusAsync(self.Address.ToString(), self.Incarnation, MemberStatus.Removed, default); // as if it had been removed behind its back

        await node.WhenTerminated.WaitAsync(Timeout);
        Assert.Equal(MemberStatus.Removed, (await cluster.Members.ReadAllAsync(default)).Single(m => m.Address == self.Address.ToString()).Status);
    }

    [Fact]
    public async Task A_node_that_is_out_releases_its_singletons_lease_at_once_instead_of_letting_it_expire()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        void LongLeases(ClusterOptions c)
        {
            Fast(c);
            c.Lease = new LeaseOptions { Duration = TimeSpan.FromMinutes(5) }; // expiry cannot be what moves it
        }

        var first = await cluster.NodeAsync("first", configure: LongLeases);
        var proxy = first.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));
        Assert.Equal(first.Address.ToString(), (await proxy.Ask<Here>(new WhereAreYou(), Timeout)).Node);
        var second = await cluster.NodeAsync("second", configure: LongLeases);
        var secondProxy = second.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));
        var self = first.Cluster().SelfMember!;

        await cluster.Members.SetStatusAsync(self.Address.ToString(), self.Incarnation, MemberStatus.Removed, default);

        await first.WhenTerminated.WaitAsync(Timeout);
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            try
            {
                if ((await secondProxy.Ask<Here>(new WhereAreYou(), TimeSpan.FromSeconds(1))).Node == second.Address.ToString())
                {
                    break;
                }
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
            }

            Assert.True(DateTime.UtcNow < deadline, "the singleton did not move before its lease would have expired");
        }

        Assert.Equal(["start", "stop", "start"], log.Select(e => e.Item1));
    }

    [Fact]
    public async Task A_second_node_at_a_live_members_address_is_refused_naming_the_address()
    {
        var members = new InMemoryMembershipStore();
        var port = FreePort();
        var address = $"recall://dup@127.0.0.1:{port}";
        await members.TryJoinAsync(address, 42, [], TimeSpan.FromSeconds(1), default);
        using var beating = new CancellationTokenSource();
        var other = Task.Run(async () =>
        {
            while (!beating.IsCancellationRequested)
            {
                await members.HeartbeatAsync(address, 42, default); // the other node keeps renewing
                await Task.Delay(100);
            }
        });
        await using var node = ActorSystem.Create("dup", o => o.UseCluster(c =>
        {
            c.Listen("127.0.0.1", port).UseLeaseStore(new InMemoryLeaseStore()).UseMembershipStore(members);
            Fast(c);
        }));

        var refused = await Assert.ThrowsAsync<ClusterJoinException>(() => node.Cluster().JoinAsync());

        Assert.Contains(address, refused.Message, StringComparison.Ordinal);
        Assert.Contains("cannot share an address", refused.Message, StringComparison.Ordinal);
        Assert.False(node.Cluster().IsUp);
        Assert.Null(node.Cluster().SelfMember);
        Assert.Equal(42, (await members.ReadAllAsync(default)).Single().Incarnation);
        await beating.CancelAsync();
        await other;
    }

    [Fact]
    public async Task A_membership_database_that_cannot_be_reached_fails_the_join_with_a_clear_error()
    {
        await using var members = new PostgreSqlMembershipStore(new PostgreSqlStoreOptions { ConnectionString = $"Host=127.0.0.1;Port={FreePort()};Username=nobody;Timeout=3" });
        await using var node = ActorSystem.Create("unreachable", o => o.UseCluster(c => c.Listen("127.0.0.1", 0).UseLeaseStore(new InMemoryLeaseStore()).UseMembershipStore(members)));

        var refused = await Assert.ThrowsAsync<ClusterJoinException>(() => node.Cluster().JoinAsync());

        Assert.Contains(node.Address.ToString(), refused.Message, StringComparison.Ordinal);
        Assert.Contains("membership store failed", refused.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", refused.Message, StringComparison.Ordinal); // the store's own error says where it tried
        Assert.False(node.Cluster().IsUp);
        Assert.Empty(node.Cluster().Members);
    }

    [Fact]
    public void A_cluster_without_a_membership_store_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create("x", o => o.UseCluster(c => c.Listen("127.0.0.1", 0).UseLeaseStore(new InMemoryLeaseStore()))));

        Assert.Contains("ClusterOptions.Membership", error.Message, StringComparison.Ordinal);
    }

    private static EventReader Collect(IAsyncEnumerable<MemberEvent> events) => new(events);

    private static async Task EventuallyAsync(Func<bool> condition, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time: " + state?.Invoke());
            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Idle : Actor
    {
        protected override void Receive(object message)
        {
        }
    }

    /// <summary>Reads a member event stream in the background, so that a test can wait for the event it expects.</summary>
    private sealed class EventReader
    {
        private readonly Channel<MemberEvent> _events = Channel.CreateUnbounded<MemberEvent>();

        public EventReader(IAsyncEnumerable<MemberEvent> source) => _ = Task.Run(async () =>
        {
            await foreach (var e in source)
            {
                _events.Writer.TryWrite(e);
            }

            _events.Writer.TryComplete();
        });

        public async Task<MemberEvent> NextAsync(Func<MemberEvent, bool> match)
        {
            using var timeout = new CancellationTokenSource(Timeout);
            while (true)
            {
                var next = await _events.Reader.ReadAsync(timeout.Token);
                if (match(next))
                {
                    return next;
                }
            }
        }

        public async Task<bool> EndsAsync()
        {
            using var timeout = new CancellationTokenSource(Timeout);
            while (await _events.Reader.WaitToReadAsync(timeout.Token))
            {
                _events.Reader.TryRead(out _);
            }

            return true;
        }
    }

    /// <summary>A shared in-memory membership store whose heartbeats hang for the members the test silences.</summary>
    private sealed class SilenceableMembershipStore : IMembershipStore
    {
        private readonly InMemoryMembershipStore _inner = new();
        private readonly HashSet<string> _silenced = [];

        public void Silence(string address)
        {
            lock (_silenced)
            {
                _silenced.Add(address);
            }
        }

        public ValueTask<MemberRecord?> TryJoinAsync(string address, long incarnation, IReadOnlyList<string> roles, TimeSpan staleAfter, CancellationToken cancellationToken) =>
            _inner.TryJoinAsync(address, incarnation, roles, staleAfter, cancellationToken);

        public async ValueTask<MemberRecord?> HeartbeatAsync(string address, long incarnation, CancellationToken cancellationToken)
        {
            bool silenced;
            lock (_silenced)
            {
                silenced = _silenced.Contains(address);
            }

            if (silenced)
            {
                await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);
            }

            return await _inner.HeartbeatAsync(address, incarnation, cancellationToken);
        }

        public ValueTask<MemberRecord?> SetStatusAsync(string address, long incarnation, MemberStatus status, CancellationToken cancellationToken) =>
            _inner.SetStatusAsync(address, incarnation, status, cancellationToken);

        public ValueTask<IReadOnlyList<MemberRecord>> DownUnresponsiveAsync(TimeSpan downAfter, CancellationToken cancellationToken) =>
            _inner.DownUnresponsiveAsync(downAfter, cancellationToken);

        public ValueTask<IReadOnlyList<MemberRecord>> ReadAllAsync(CancellationToken cancellationToken) => _inner.ReadAllAsync(cancellationToken);
    }
}
