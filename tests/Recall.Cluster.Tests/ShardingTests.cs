using System.Collections.Concurrent;
using System.Diagnostics;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Persistence;
using Recall.Persistence.InMemory;
using Recall.Persistence.Journal;
using Recall.Persistence.Leases;
using Recall.Persistence.Sharding;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Cluster.Tests;

[EventType("sharding-test.add")]
public sealed record Add(string EntityId);

[EventType("sharding-test.counted")]
public sealed record Counted(string EntityId, string Node, long Count);

/// <summary>The counters' extractor: 12 shards by the stable hash of the entity id.</summary>
public sealed class CounterExtractor() : HashCodeMessageExtractor(12)
{
    public override string? EntityId(object message) => (message as Add)?.EntityId ?? base.EntityId(message);
}

/// <summary>Where and when entities ran: one line per start and stop, with the node and a timestamp.</summary>
public sealed class EntityLog
{
    private readonly ConcurrentQueue<(string Event, string Entity, string Node, long At)> _lines = new();

    public void Add(string @event, string entity, string node) => _lines.Enqueue((@event, entity, node, Stopwatch.GetTimestamp()));

    public IReadOnlyList<(string Event, string Entity, string Node, long At)> Lines => [.. _lines];

    public int Starts(string entity) => Lines.Count(l => l.Event == "start" && l.Entity == entity);

    /// <summary>Fails if an entity ever ran on two nodes at once: each start must come after the stop of the run before it.</summary>
    public void AssertOneRunAtATime()
    {
        foreach (var entity in Lines.GroupBy(l => l.Entity))
        {
            var running = 0;
            foreach (var line in entity.OrderBy(l => l.At))
            {
                running += line.Event == "start" ? 1 : -1;
                Assert.True(running <= 1, $"entity {entity.Key} ran twice at once: {string.Join(", ", entity.OrderBy(l => l.At).Select(l => $"{l.Event}@{l.Node}"))}");
            }
        }
    }
}

/// <summary>A persistent counter entity: each Add persists "added" and answers with the count and where it runs.</summary>
public sealed class Counter(string entityId, EntityLog log) : PersistentActor
{
    private long _count;

    public override string PersistenceId => "counter|" + entityId;

    protected override void PreStart() => log.Add("start", entityId, Context.System.Address.ToString());

    protected override void PostStop() => log.Add("stop", entityId, Context.System.Address.ToString());

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Add:
                Persist("added", _ =>
                {
                    _count++;
                    Sender.Tell(new Counted(entityId, Context.System.Address.ToString(), _count), Self);
                });
                break;
            case "stop-me":
                Context.Parent.Tell(new Passivate(), Self);
                break;
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

[EventType("sharding-test.typed-add")]
public sealed record TypedAdd(string EntityId, IReplyTo<long> ReplyTo);

/// <summary>A typed entity: each TypedAdd persists "added" and replies with the count.</summary>
public sealed class TypedCounter(string id) : EventSourcedActor<TypedAdd, string, long>(PersistenceId.Of("typed-counter", id), 0)
{
    protected override Effect<string, long> OnCommand(long state, TypedAdd command) =>
        Effect.Persist("added").ThenReply(command.ReplyTo, count => count);

    protected override long OnEvent(long state, string @event) => state + 1;
}

[Collection(Timing.Collection)]
public sealed class ShardingTests
{
    private static readonly TimeSpan AskTimeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));

    private static ShardingSettings Fast(Action<ShardingSettings>? change = null)
    {
        var settings = new ShardingSettings { RebalanceInterval = TimeSpan.FromMilliseconds(300), RetryInterval = TimeSpan.FromMilliseconds(200) };
        change?.Invoke(settings);
        return settings;
    }

    private static IActorRef StartCounters(ActorSystem node, EntityLog log, ShardingSettings? settings = null) =>
        node.Sharding().Start("counter", id => Props.Create(() => new Counter(id, log)), new CounterExtractor(), settings ?? Fast());

    private static (TestCluster Cluster, InMemoryJournal Journal) NewCluster()
    {
        var journal = new InMemoryJournal(new EventSerialization());
        return (new TestCluster(new InMemoryLeaseStore(), journal), journal);
    }

    private static async Task<long> StoredCountAsync(InMemoryJournal journal, string entityId)
    {
        long count = 0;
        await foreach (var _ in journal.ReplayAsync("counter|" + entityId, 1, long.MaxValue, long.MaxValue, default))
        {
            count++;
        }

        return count;
    }

    /// <summary>Sends one Add to each entity per round until <paramref name="node"/> runs at least 3 of the 12 shards (they move there by rebalance); returns the rounds sent.</summary>
    private static async Task<int> SendUntilSharedAsync(IActorRef region, ActorSystem node, List<string> entities)
    {
        var rounds = 0;
        var deadline = DateTime.UtcNow + Wait.Timeout;
        do
        {
            await Task.WhenAll(entities.Select(e => region.Ask<Counted>(new Add(e), AskTimeout)));
            rounds++;
            Assert.True(DateTime.UtcNow < deadline, $"{node.Address} got no share of the shards in {Wait.Timeout.TotalSeconds} s");
        }
        while ((await node.Sharding().StatisticsAsync("counter")).Shards < 3);

        return rounds;
    }

    [Fact]
    public async Task Messages_from_any_node_reach_one_instance_of_each_entity()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        List<IActorRef> regions = [];

        // No rebalance: a region that registers after the first allocations would otherwise take
        // shards over, restarting their entities elsewhere (a second start, though never two at once).
        var settings = Fast(s => s.RebalanceInterval = TimeSpan.FromHours(1));
        for (var i = 0; i < 3; i++)
        {
            regions.Add(StartCounters(await cluster.NodeAsync("n" + i), log, settings));
        }

        var entities = Enumerable.Range(0, 30).Select(i => "e" + i).ToList();
        foreach (var region in regions)
        {
            var answers = await Task.WhenAll(entities.Select(e => region.Ask<Counted>(new Add(e), AskTimeout)));
            Assert.All(answers, a => Assert.Equal(regions.IndexOf(region) + 1, a.Count));
        }

        Assert.All(entities, e => Assert.Equal(1, log.Starts(e)));
    }

    [Fact]
    public async Task Typed_entities_are_sharded_the_same_way()
    {
        var (cluster, journal) = NewCluster();
        await using var _c = cluster;
        var extractor = new TypedExtractor();
        var regions = new List<IActorRef>();
        for (var i = 0; i < 2; i++)
        {
            regions.Add((await cluster.NodeAsync("t" + i)).Sharding().Start("typed-counter", id => Props.Create(() => new TypedCounter(id)), extractor, Fast()));
        }

        foreach (var region in regions)
        {
            Assert.Equal(regions.IndexOf(region) + 1L, await region.Ask<long>(reply => new TypedAdd("typed-1", reply), AskTimeout));
        }

        var stored = new List<object>();
        await foreach (var e in journal.ReplayAsync("typed-counter|typed-1", 1, long.MaxValue, long.MaxValue, default))
        {
            stored.Add(e.Payload);
        }

        Assert.Equal(["added", "added"], stored);
    }

    private sealed class TypedExtractor() : HashCodeMessageExtractor(12)
    {
        public override string? EntityId(object message) => (message as TypedAdd)?.EntityId;
    }

    [Fact]
    public async Task A_proxy_sends_without_hosting_and_a_message_for_no_entity_is_a_dead_letter()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        StartCounters(await cluster.NodeAsync("host"), log);
        var client = await cluster.NodeAsync("client");
        var proxy = client.Sharding().StartProxy("counter", new CounterExtractor(), Fast());

        var answer = await proxy.Ask<Counted>(new Add("p1"), AskTimeout);
        Assert.Equal(cluster.Nodes[0].Address.ToString(), answer.Node);

        var deadLetters = client.DeadLetterCount;
        proxy.Tell("not a counter message", null);
        await Wait.UntilAsync(() => client.DeadLetterCount > deadLetters, "the message for no entity became a dead letter");
        Assert.Equal(0, (await client.Sharding().StatisticsAsync("counter")).Shards);
    }

    [Fact]
    public async Task A_joining_node_gets_shards_while_every_entity_keeps_one_run_at_a_time_and_answers()
    {
        var log = new EntityLog();
        var (cluster, journal) = NewCluster();
        await using var _c = cluster;
        var first = StartCounters(await cluster.NodeAsync("n0"), log);
        StartCounters(await cluster.NodeAsync("n1"), log);
        var entities = Enumerable.Range(0, 40).Select(i => "j" + i).ToList();
        await Task.WhenAll(entities.Select(e => first.Ask<Counted>(new Add(e), AskTimeout)));

        var joined = await cluster.NodeAsync("n2");
        StartCounters(joined, log);

        // Commands keep flowing while shards move; each is answered.
        var sent = 1 + await SendUntilSharedAsync(first, joined, entities);

        await Task.WhenAll(entities.Select(e => first.Ask<Counted>(new Add(e), AskTimeout)));
        sent++;
        log.AssertOneRunAtATime();
        foreach (var e in entities)
        {
            Assert.Equal(sent, await StoredCountAsync(journal, e));
        }

        var shards = await Task.WhenAll(cluster.Nodes.Select(async n => (await n.Sharding().StatisticsAsync("counter")).Shards));
        var used = entities.Select(e => HashCodeMessageExtractor.ShardOf(e, 12)).Distinct().Count();
        Assert.InRange(shards.Sum(), 1, used); // no shard runs in two places (one may be between homes)
    }

    [Fact]
    public async Task A_graceful_leave_hands_its_shards_over_and_loses_no_command()
    {
        var log = new EntityLog();
        var (cluster, journal) = NewCluster();
        await using var _c = cluster;
        var client = StartCounters(await cluster.NodeAsync("stays"), log);
        var leaving = await cluster.NodeAsync("leaves");
        StartCounters(leaving, log);
        var entities = Enumerable.Range(0, 30).Select(i => "g" + i).ToList();
        await SendUntilSharedAsync(client, leaving, entities);

        // Send while the node leaves: every command is answered, from wherever the entity is then.
        using var stop = new CancellationTokenSource();
        var acknowledged = new ConcurrentDictionary<string, long>();
        var rounds = 0;
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var answer in await Task.WhenAll(entities.Select(e => client.Ask<Counted>(new Add(e), AskTimeout))))
                {
                    acknowledged.AddOrUpdate(answer.EntityId, answer.Count, (_, c) => Math.Max(c, answer.Count));
                }

                Interlocked.Increment(ref rounds);
            }
        });
        await RoundsAsync(1); // commands flow when the node starts leaving
        await leaving.Cluster().LeaveAsync();
        await RoundsAsync(Volatile.Read(ref rounds) + 2); // and go on once it left: a whole round sent after it
        await stop.CancelAsync();
        await load;

        async Task RoundsAsync(int count)
        {
            var deadline = DateTime.UtcNow + Wait.Timeout;
            while (Volatile.Read(ref rounds) < count)
            {
                Assert.False(load.IsCompleted, $"the load stopped: {load.Exception?.GetBaseException().Message}");
                Assert.True(DateTime.UtcNow < deadline, $"fewer than {count} rounds of commands in {Wait.Timeout.TotalSeconds} s");
                await Task.Delay(10);
            }
        }

        var answers = await Task.WhenAll(entities.Select(e => client.Ask<Counted>(new Add(e), AskTimeout)));
        Assert.All(answers, a => Assert.Equal(cluster.Nodes[0].Address.ToString(), a.Node));
        foreach (var answer in answers)
        {
            Assert.Equal(acknowledged[answer.EntityId] + 1, answer.Count);
            Assert.Equal(answer.Count, await StoredCountAsync(journal, answer.EntityId));
        }

        log.AssertOneRunAtATime();
    }

    [Fact]
    public async Task When_every_node_leaves_at_once_each_stops_its_shards_itself_instead_of_waiting_for_a_coordinator()
    {
        var log = new EntityLog();
        var (cluster, journal) = NewCluster();
        await using var _c = cluster;

        // A handoff timeout far beyond the wait below: a leave that waited for a coordinator that can
        // run nowhere (every member leaving) would take twice that.
        var settings = Fast(s => s.HandOffTimeout = TimeSpan.FromSeconds(60));
        var nodes = new List<ActorSystem>();
        IActorRef? region = null;
        foreach (var name in new[] { "x", "y", "z" })
        {
            var node = await cluster.NodeAsync(name);
            nodes.Add(node);
            region = StartCounters(node, log, settings);
        }

        var entities = Enumerable.Range(0, 30).Select(i => "all" + i).ToList();
        await Wait.UntilAsync(async () =>
        {
            await Task.WhenAll(entities.Select(e => region!.Ask<Counted>(new Add(e), AskTimeout)));
            return (await Task.WhenAll(nodes.Select(n => n.Sharding().StatisticsAsync("counter")))).All(s => s.Shards > 0);
        }, "every node runs shards");
        var counts = await Task.WhenAll(entities.Select(e => StoredCountAsync(journal, e)));

        await Task.WhenAll(nodes.Select(n => n.Cluster().LeaveAsync())).WaitAsync(TimeSpan.FromSeconds(60));

        // Every shard lease was released (none waits to expire), and the entities stopped after their writes.
        var leases = await cluster.Nodes[0].Cluster().Leases.ReadAllAsync(default);
        Assert.DoesNotContain(leases, l => l.Name.StartsWith("shard:counter:", StringComparison.Ordinal) && l.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.Equal(counts, await Task.WhenAll(entities.Select(e => StoredCountAsync(journal, e))));
        log.AssertOneRunAtATime();
    }

    [Fact]
    public async Task A_node_that_stops_has_its_entities_answer_elsewhere_with_their_history()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        var client = StartCounters(await cluster.NodeAsync("survivor"), log);
        var doomed = await cluster.NodeAsync("doomed");
        StartCounters(doomed, log);
        var entities = Enumerable.Range(0, 30).Select(i => "k" + i).ToList();
        var sent = await SendUntilSharedAsync(client, doomed, entities);
        var onDoomed = log.Lines.Where(l => l.Event == "start" && l.Node == doomed.Address.ToString()).Select(l => l.Entity).Distinct().ToList();
        Assert.NotEmpty(onDoomed);

        await doomed.TerminateAsync();

        var answers = await Task.WhenAll(onDoomed.Select(e => client.Ask<Counted>(new Add(e), AskTimeout)));
        Assert.All(answers, a => Assert.Equal((cluster.Nodes[0].Address.ToString(), sent + 1L), (a.Node, a.Count)));
    }

    [Fact]
    public async Task After_a_move_the_entity_writes_with_the_new_shards_token_and_the_old_token_is_refused()
    {
        var log = new EntityLog();
        var (cluster, journal) = NewCluster();
        await using var _c = cluster;
        var client = StartCounters(await cluster.NodeAsync("first"), log);
        Assert.Equal(1L, (await client.Ask<Counted>(new Add("f1"), AskTimeout)).Count);
        var second = await cluster.NodeAsync("second");
        StartCounters(second, log);
        await client.Ask<Counted>(new Add("f1"), AskTimeout);

        // Make every shard move to the second node: the first leaves.
        await cluster.Nodes[0].Cluster().LeaveAsync();
        var region = second.Sharding().Region("counter");
        var answer = await region.Ask<Counted>(new Add("f1"), AskTimeout);
        Assert.Equal((second.Address.ToString(), 3L), (answer.Node, answer.Count));

        // The first home's token is older than the one the second wrote with: a stale write is refused.
        var stale = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("counter|f1", 4, "added")) { FencingToken = 1 }], default);
        Assert.IsType<FencedWriteException>(stale[0]);
    }

    [Fact]
    public async Task An_idle_entity_is_passivated_and_its_next_message_starts_it_again()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        var region = StartCounters(await cluster.NodeAsync("solo"), log, Fast(s => s.PassivateIdleAfter = TimeSpan.FromMilliseconds(300)));
        await region.Ask<Counted>(new Add("idle"), AskTimeout);

        await Wait.UntilAsync(() => log.Lines.Any(l => l.Event == "stop" && l.Entity == "idle"), "the idle entity was stopped");
        Assert.Equal(2L, (await region.Ask<Counted>(new Add("idle"), AskTimeout)).Count);
        Assert.Equal(2, log.Starts("idle"));
    }

    [Fact]
    public async Task Beyond_the_active_limit_the_least_recently_used_entity_stops_and_messages_to_a_stopping_one_restart_it()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        var region = StartCounters(await cluster.NodeAsync("solo"), log, Fast(s => s.MaxActiveEntitiesPerShard = 2));
        var sameShard = Enumerable.Range(0, 1000).Select(i => "l" + i).Where(e => HashCodeMessageExtractor.ShardOf(e, 12) == "0").Take(3).ToList();

        await region.Ask<Counted>(new Add(sameShard[0]), AskTimeout);
        await region.Ask<Counted>(new Add(sameShard[1]), AskTimeout);
        await region.Ask<Counted>(new Add(sameShard[0]), AskTimeout); // now the second is the least recently used
        await region.Ask<Counted>(new Add(sameShard[2]), AskTimeout);

        await Wait.UntilAsync(() => log.Lines.Any(l => l.Event == "stop" && l.Entity == sameShard[1]), "the least recently used entity was stopped");
        Assert.DoesNotContain(log.Lines, l => l.Event == "stop" && l.Entity == sameShard[0]);

        // A message right after the stop was asked for waits for it, then starts the entity again.
        var answers = await Task.WhenAll(region.Ask<Counted>(new Add(sameShard[1]), AskTimeout), region.Ask<Counted>(new Add(sameShard[1]), AskTimeout));
        Assert.Equal([2L, 3L], answers.Select(a => a.Count).Order());
    }

    [Fact]
    public async Task Remembered_entities_start_again_without_a_message_on_their_new_home_and_one_that_passivates_is_forgotten()
    {
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        var settings = Fast(s => s.RememberEntities = true);
        var first = await cluster.NodeAsync("first");
        var region = StartCounters(first, log, settings);
        foreach (var e in new[] { "r1", "r2", "r3" })
        {
            await region.Ask<Counted>(new Add(e), AskTimeout);
        }

        region.Tell(new ShardingEnvelope("r3", "stop-me"), null);
        await Wait.UntilAsync(() => log.Lines.Any(l => l.Event == "stop" && l.Entity == "r3"), "r3 passivated itself");

        var second = await cluster.NodeAsync("second");
        StartCounters(second, log, settings);
        await first.Cluster().LeaveAsync();

        var there = second.Address.ToString();
        await Wait.UntilAsync(() => log.Lines.Any(l => l.Event == "start" && l.Entity == "r1" && l.Node == there) && log.Lines.Any(l => l.Event == "start" && l.Entity == "r2" && l.Node == there), "r1 and r2 started on the second node");
        Assert.DoesNotContain(log.Lines, l => l.Entity == "r3" && l.Node == there);
        Assert.Equal(2, (await cluster.Shards.CountEntitiesAsync("counter", default)).Sum(c => c.Entities));
    }

    [Fact]
    public async Task Remembered_entities_whose_stored_home_is_a_gone_node_start_without_a_message()
    {
        // What a node leaves in the store when it stopped its shards while no coordinator could
        // forget their homes (every member leaving, or a crash of the only node): a home naming a
        // node that is no longer a member, and the entities remembered there.
        var log = new EntityLog();
        var (cluster, _) = NewCluster();
        await using var _c = cluster;
        var shard = HashCodeMessageExtractor.ShardOf("r1", 12);
        await cluster.Shards.SetHomeAsync("counter", shard, "recall://test@10.9.9.9:1", default);
        await cluster.Shards.AddEntityAsync("counter", shard, "r1", default);

        var node = await cluster.NodeAsync("later");
        StartCounters(node, log, Fast(s => s.RememberEntities = true));

        var there = node.Address.ToString();
        await Wait.UntilAsync(() => log.Lines.Any(l => l.Event == "start" && l.Entity == "r1" && l.Node == there), "r1 started on the node that came later");
        Assert.Equal(there, Assert.Single(await cluster.Shards.ReadHomesAsync("counter", default), h => h.ShardId == shard).Node);
    }

    [Fact]
    public async Task A_shard_store_that_fails_for_a_while_delays_sharding_but_does_not_stop_it_and_order_holds()
    {
        var log = new EntityLog();
        var flaky = new FlakyShardStore(new InMemoryShardStore(), failures: 3);
        var cluster = new TestCluster(new InMemoryLeaseStore(), new InMemoryJournal(new EventSerialization()), shards: flaky);
        await using var _c = cluster;
        var region = StartCounters(await cluster.NodeAsync("solo"), log, Fast(s => s.RememberEntities = true));

        // Each store call below fails three times before it works: the coordinator and the shard try again.
        var first = await region.Ask<Counted>(new Add("flaky"), AskTimeout);
        Assert.Equal(1L, first.Count);

        // Messages to a new remembered entity wait while it is remembered (slowly), and arrive in order.
        flaky.Delay = TimeSpan.FromMilliseconds(100);
        var probe = new TestProbe(cluster.Nodes[0]);
        for (var i = 0; i < 20; i++)
        {
            region.Tell(new Add("ordered"), probe.Ref);
        }

        for (var i = 1; i <= 20; i++)
        {
            Assert.Equal(i, (await probe.ExpectMsgAsync<Counted>(timeout: AskTimeout)).Count);
        }

        Assert.True(flaky.Failed >= 3, $"the store failed {flaky.Failed} times");
    }

    /// <summary>A shard store whose writes fail a number of times first, and may be slow.</summary>
    private sealed class FlakyShardStore(IShardStore inner, int failures) : IShardStore
    {
        private int _failures = failures;

        public TimeSpan Delay { get; set; }

        public int Failed { get; private set; }

        public ValueTask<IReadOnlyList<ShardHomeRecord>> ReadHomesAsync(string? typeName, CancellationToken cancellationToken) => inner.ReadHomesAsync(typeName, cancellationToken);

        public async ValueTask SetHomeAsync(string typeName, string shardId, string node, CancellationToken cancellationToken)
        {
            await FailOrWaitAsync();
            await inner.SetHomeAsync(typeName, shardId, node, cancellationToken);
        }

        public ValueTask RemoveHomesAsync(string typeName, IReadOnlyCollection<string> shardIds, CancellationToken cancellationToken) => inner.RemoveHomesAsync(typeName, shardIds, cancellationToken);

        public ValueTask<IReadOnlyList<string>> ReadEntitiesAsync(string typeName, string shardId, CancellationToken cancellationToken) => inner.ReadEntitiesAsync(typeName, shardId, cancellationToken);

        public async ValueTask AddEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
        {
            await FailOrWaitAsync();
            await inner.AddEntityAsync(typeName, shardId, entityId, cancellationToken);
        }

        public ValueTask RemoveEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken) => inner.RemoveEntityAsync(typeName, shardId, entityId, cancellationToken);

        public ValueTask<IReadOnlyList<ShardEntityCount>> CountEntitiesAsync(string? typeName, CancellationToken cancellationToken) => inner.CountEntitiesAsync(typeName, cancellationToken);

        private async Task FailOrWaitAsync()
        {
            await Task.Delay(Delay);
            if (Interlocked.Decrement(ref _failures) >= 0)
            {
                Failed++;
                throw new InvalidOperationException("the shard store is down (test)");
            }
        }
    }
}
