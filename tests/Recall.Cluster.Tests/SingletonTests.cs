using System.Collections.Concurrent;
using System.Diagnostics;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Journal;
using Recall.Persistence.Leases;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Cluster.Tests;

[EventType("cluster-test.where-are-you")]
public sealed record WhereAreYou;

[EventType("cluster-test.here")]
public sealed record Here(string Node);

/// <summary>A singleton that says where it runs and records when it starts and stops.</summary>
public sealed class Where(ConcurrentQueue<(string Event, string Node, long At)> log) : Actor
{
    protected override void PreStart() => log.Enqueue(("start", Context.System.Address.ToString(), Stopwatch.GetTimestamp()));

    protected override void PostStop() => log.Enqueue(("stop", Context.System.Address.ToString(), Stopwatch.GetTimestamp()));

    protected override void Receive(object message)
    {
        if (message is WhereAreYou)
        {
            Sender.Tell(new Here(Context.System.Address.ToString()), Self);
        }
    }
}

[Collection(Timing.Collection)]
public sealed class SingletonTests
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(20));

    [Fact]
    public async Task A_singleton_runs_on_one_node_and_every_proxy_reaches_it()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        List<ActorSystem> nodes = [await cluster.NodeAsync("n0"), await cluster.NodeAsync("n1"), await cluster.NodeAsync("n2")];
        var proxies = nodes.Select(n => n.Cluster().StartSingleton("where", Props.Create(() => new Where(log)))).ToList();

        var answers = await Task.WhenAll(proxies.Select(p => p.Ask<Here>(new WhereAreYou(), Timeout)));

        Assert.Single(answers.Select(a => a.Node).Distinct());
        Assert.Single(log, e => e.Item1 == "start");
    }

    [Fact]
    public async Task A_proxy_keeps_messages_until_a_singleton_runs_then_delivers_them_in_order()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var sender = await cluster.NodeAsync("sender");
        var proxy = sender.Cluster().StartSingletonProxy("where");
        var probe = new TestProbe(sender);
        proxy.Tell(new WhereAreYou(), probe.Ref);
        proxy.Tell(new WhereAreYou(), probe.Ref);
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500)); // nothing runs yet: the proxy keeps them

        var host = await cluster.NodeAsync("host");
        host.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));

        Assert.Equal(host.Address.ToString(), (await probe.ExpectMsgAsync<Here>(timeout: Timeout)).Node);
        Assert.Equal(host.Address.ToString(), (await probe.ExpectMsgAsync<Here>(timeout: Timeout)).Node);
    }

    [Fact]
    public async Task What_a_proxy_still_buffers_when_it_stops_becomes_dead_letters()
    {
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        var sender = await cluster.NodeAsync("sender");
        var proxy = sender.Cluster().StartSingletonProxy("nowhere");
        var probe = new TestProbe(sender);
        probe.Watch(proxy);
        var before = sender.DeadLetterCount;
        proxy.Tell(new WhereAreYou(), null);
        proxy.Tell(new WhereAreYou(), null);

        sender.Stop(proxy);

        await probe.ExpectTerminatedAsync(proxy);
        Assert.True(sender.DeadLetterCount - before >= 2, $"{sender.DeadLetterCount - before} dead letters"); // the two messages (and the proxy's own lookup answer, late)
    }

    [Fact]
    public async Task When_its_node_leaves_the_singleton_moves_to_another_after_the_first_stopped()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        await using var cluster = new TestCluster(new InMemoryLeaseStore());
        List<ActorSystem> nodes = [await cluster.NodeAsync("n0"), await cluster.NodeAsync("n1"), await cluster.NodeAsync("n2")];
        var proxies = nodes.Select(n => n.Cluster().StartSingleton("where", Props.Create(() => new Where(log)))).ToList();
        var first = (await proxies[0].Ask<Here>(new WhereAreYou(), Timeout)).Node;
        var leaving = nodes.Single(n => n.Address.ToString() == first);
        var staying = nodes.IndexOf(nodes.First(n => n != leaving));

        await leaving.TerminateAsync();

        string? second = null;
        Assert.True(await EventuallyAsync(async () =>
        {
            try
            {
                second = (await proxies[staying].Ask<Here>(new WhereAreYou(), TimeSpan.FromSeconds(2))).Node;
                return second != first;
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
                return false; // sent to the old singleton as it stopped: lost, as remote messages may be
            }
        }));
        var events = log.ToList();
        Assert.Equal(["start", "stop", "start"], events.Select(e => e.Item1));
        Assert.True(events[1].Item3 <= events[2].Item3, "the second instance started after the first stopped");
    }

    [Fact]
    public async Task A_node_that_cannot_renew_stops_its_singleton_before_another_takes_over()
    {
        var log = new ConcurrentQueue<(string, string, long)>();
        var shared = new InMemoryLeaseStore();
        var cut = new CutOff(shared);
        await using var cluster = new TestCluster(shared);
        var isolated = await cluster.NodeAsync("isolated", cut);
        var isolatedProxy = isolated.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));
        Assert.Equal(isolated.Address.ToString(), (await isolatedProxy.Ask<Here>(new WhereAreYou(), Timeout)).Node);
        var other = await cluster.NodeAsync("other");
        var otherProxy = other.Cluster().StartSingleton("where", Props.Create(() => new Where(log)));

        cut.Hang = true; // the isolated node can no longer reach the lease store; its lease runs out

        Assert.True(await EventuallyAsync(async () =>
        {
            try
            {
                return (await otherProxy.Ask<Here>(new WhereAreYou(), TimeSpan.FromSeconds(2))).Node == other.Address.ToString();
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
                return false; // reached the old singleton as it stopped: lost, as remote messages may be
            }
        }));
        var events = log.ToList();
        Assert.Equal([("start", isolated.Address.ToString()), ("stop", isolated.Address.ToString()), ("start", other.Address.ToString())], events.Select(e => (e.Item1, e.Item2)));
        Assert.True(events[1].Item3 < events[2].Item3, "the isolated node stopped its singleton before the other started one");
    }

    [Fact]
    public async Task A_persistent_singleton_writes_with_its_lease_token_and_a_newer_owner_continues_its_history()
    {
        var shared = new InMemoryLeaseStore();
        var journal = new Recall.Persistence.InMemory.InMemoryJournal(new EventSerialization());
        await using var cluster = new TestCluster(shared, journal);
        var a = await cluster.NodeAsync("a");
        var proxyA = a.Cluster().StartSingleton("ledger", Props.Create(() => new Ledger()));
        Assert.Equal(1L, await proxyA.Ask<long>("add", Timeout));
        Assert.Equal(2L, await proxyA.Ask<long>("add", Timeout));
        var b = await cluster.NodeAsync("b");
        var proxyB = b.Cluster().StartSingleton("ledger", Props.Create(() => new Ledger()));

        await a.TerminateAsync();

        // b recovered a's two events and wrote the third with its own, higher token.
        Assert.Equal(3L, await proxyB.Ask<long>("add", Timeout));
        var stored = new List<string>();
        await foreach (var e in journal.ReplayAsync("ledger", 1, long.MaxValue, long.MaxValue, default))
        {
            stored.Add((string)e.Payload);
        }

        Assert.Equal(["added", "added", "added"], stored);

        // a's token (1) is stale now: a write with it, as a paused a would make, is refused.
        var stale = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("ledger", 4, "added")) { FencingToken = 1 }], default);
        Assert.IsType<FencedWriteException>(stale[0]);
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return false;
    }

    /// <summary>A persistent singleton: counts "add" commands in its journal.</summary>
    private sealed class Ledger : PersistentActor
    {
        private long _count;

        public override string PersistenceId => "ledger";

        protected override void ReceiveCommand(object command)
        {
            if (command is "add")
            {
                Persist("added", _ =>
                {
                    _count++;
                    Sender.Tell(_count, Self);
                });
            }
        }

        protected override void ReceiveRecover(object message)
        {
            if (message is "added")
            {
                _count++;
            }
        }
    }

    /// <summary>A lease store this node can be cut off from: its calls then never answer.</summary>
    private sealed class CutOff(ILeaseStore inner) : ILeaseStore
    {
        public volatile bool Hang;

        public async ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
        {
            await WaitIfCut(cancellationToken);
            return await inner.TryAcquireAsync(name, holder, duration, cancellationToken);
        }

        public async ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken)
        {
            await WaitIfCut(cancellationToken);
            return await inner.RenewAsync(name, holder, fencingToken, duration, cancellationToken);
        }

        public async ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken)
        {
            await WaitIfCut(cancellationToken);
            return await inner.ReleaseAsync(name, holder, fencingToken, cancellationToken);
        }

        public ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) => inner.ReadAsync(name, cancellationToken);

        public ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken) => inner.ReadAllAsync(cancellationToken);

        private async Task WaitIfCut(CancellationToken cancellationToken)
        {
            if (Hang)
            {
                using var release = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, release.Token);
                await Task.Delay(System.Threading.Timeout.Infinite, either.Token);
            }
        }
    }
}
