using Recall.Persistence.InMemory;

namespace Recall.Persistence.Tests;

/// <summary>The read side through an actor system: the system's read journal, adapters on read, and persistent views.</summary>
public sealed class ReadSideTests
{
    [EventType("test.read.deposited")]
    public sealed record Deposited(int Amount);

    [EventType("test.read.deposited-v2")]
    public sealed record DepositedInCents(long Cents);

    public sealed record Deposit(int Amount);

    public sealed record GetTotal;

    public sealed record Total(long Value, long LastSequenceNumber);

    public sealed record Snap;

    [EventType("test.read.view-state")]
    public sealed record ViewState(long Value);

    /// <summary>Persists a <see cref="Deposited"/> tagged "deposits" for every <see cref="Deposit"/>, and confirms.</summary>
    private sealed class Account(string id) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is Deposit deposit)
            {
                Persist(new Tagged(new Deposited(deposit.Amount), "deposits"), _ => Sender.Tell(LastSequenceNumber));
            }
        }

        protected override void ReceiveRecover(object message)
        {
        }
    }

    /// <summary>Sums the deposits of one account; with a view id it snapshots on <see cref="Snap"/>.</summary>
    private sealed class TotalView(string followed, string? viewId, IActorRef? events = null) : PersistentView
    {
        private long _total;

        public override string PersistenceId => followed;

        public override string? ViewId => viewId;

        protected override void ReceiveEvent(object message)
        {
            switch (message)
            {
                case SnapshotOffer { Snapshot: ViewState state }:
                    _total = state.Value;
                    events?.Tell(message);
                    break;
                case Deposited deposited:
                    _total += deposited.Amount;
                    events?.Tell(message);
                    break;
            }
        }

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case GetTotal:
                    Sender.Tell(new Total(_total, LastSequenceNumber));
                    break;
                case Snap:
                    SaveSnapshot(new ViewState(_total));
                    break;
                case SaveSnapshotSuccess success:
                    events?.Tell(success);
                    break;
            }
        }
    }

    private sealed class CentsUpcaster : IEventAdapter
    {
        public object ToJournal(object @event) => @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest) => [new DepositedInCents(((Deposited)stored).Amount * 100L)];
    }

    /// <summary>A read store of its own, counting its disposals.</summary>
    private sealed class DisposableReads(InMemoryJournal store) : IReadJournalStore, IAsyncDisposable
    {
        public int Disposed { get; private set; }

        public WriteNotifier Writes => store.Writes;

        public IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken) =>
            store.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);

        public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken) =>
            store.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);

        public ValueTask<Offset> ReadLatestOffsetAsync(CancellationToken cancellationToken) => store.ReadLatestOffsetAsync(cancellationToken);

        public ValueTask<IReadOnlyList<OffsetEvent>> ReadEventsAsync(EventFilter filter, Offset after, Offset upTo, int limit, CancellationToken cancellationToken) =>
            store.ReadEventsAsync(filter, after, upTo, limit, cancellationToken);

        public ValueTask<IReadOnlyList<string>> ReadPersistenceIdsAsync(string? after, int limit, CancellationToken cancellationToken) =>
            store.ReadPersistenceIdsAsync(after, limit, cancellationToken);

        public ValueTask<IReadOnlyList<PersistenceIdAt>> ReadPersistenceIdsAsync(Offset after, int limit, CancellationToken cancellationToken) =>
            store.ReadPersistenceIdsAsync(after, limit, cancellationToken);

        public ValueTask DisposeAsync()
        {
            Disposed++;
            return ValueTask.CompletedTask;
        }
    }

    private static ActorSystem CreateSystem(Action<PersistenceOptions>? configure = null) =>
        ActorSystem.Create("read", o => o.UsePersistence(p =>
        {
            p.UseInMemory();
            p.Events.Register<Deposited>().Register<DepositedInCents>().Register<ViewState>();
            configure?.Invoke(p);
        }));

    private static async Task DepositAsync(TestProbe probe, IActorRef account, params int[] amounts)
    {
        foreach (var amount in amounts)
        {
            account.Tell(new Deposit(amount), probe.Ref);
            await probe.ExpectMsgAsync<long>();
        }
    }

    [Fact]
    public async Task The_systems_read_journal_streams_what_persistent_actors_write_live_through_the_read_adapters()
    {
        await using var system = CreateSystem(p => p.Adapters.AddRead<Deposited>(new CentsUpcaster()));
        var probe = new TestProbe(system);
        var alice = system.Spawn(Props.Create(() => new Account("account|alice")));
        var bob = system.Spawn(Props.Create(() => new Account("account|bob")));
        await DepositAsync(probe, alice, 1, 2);

        using var cancel = new CancellationTokenSource(TestKitSettings.Dilated(TimeSpan.FromSeconds(10)));
        var seen = new List<EventEnvelope>();
        await foreach (var envelope in system.Persistence().ReadJournal.EventsByTag("deposits", Offset.Start, live: true, cancel.Token))
        {
            seen.Add(envelope);
            if (seen.Count == 2)
            {
                await DepositAsync(probe, bob, 3);
            }

            if (seen.Count == 3)
            {
                break;
            }
        }

        Assert.Equal(
            [("account|alice", 1L, (object)new DepositedInCents(100)), ("account|alice", 2L, new DepositedInCents(200)), ("account|bob", 1L, new DepositedInCents(300))],
            seen.Select(e => (e.PersistenceId, e.SequenceNumber, e.Event)));
        Assert.All(seen, e => Assert.Equal(["deposits"], e.Tags));
    }

    [Fact]
    public async Task The_systems_read_journal_reads_the_store_UseReadJournalStore_chose_and_the_system_disposes_it()
    {
        // Another store than the journal, holding an event the system's journal does not have:
        // streams read what the chosen store holds.
        var serialization = new EventSerialization();
        serialization.Registry.Register<Deposited>();
        var elsewhere = new InMemoryJournal(serialization);
        await elsewhere.WriteAsync([new AtomicWrite(new PersistentRepr("account|erin", 1, new Deposited(7)) { Tags = ["deposits"] })], default);
        var reads = new DisposableReads(elsewhere);
        var system = CreateSystem(p => p.UseReadJournalStore(reads));
        var probe = new TestProbe(system);
        await DepositAsync(probe, system.Spawn(Props.Create(() => new Account("account|frank"))), 1);

        Assert.Same(reads, system.Persistence().ReadJournalStore);
        var seen = await system.Persistence().ReadJournal.EventsByTag("deposits", Offset.Start, live: false).ToListAsync();
        Assert.Equal([("account|erin", 1L, (object)new Deposited(7))], seen.Select(e => (e.PersistenceId, e.SequenceNumber, e.Event)));

        await system.DisposeAsync();
        Assert.Equal(1, reads.Disposed);
    }

    [Fact]
    public async Task A_journal_without_a_read_side_and_no_read_store_gives_a_clear_error()
    {
        var folder = Directory.CreateTempSubdirectory("recall-read-side-").FullName;
        try
        {
            // A read store chosen before UseJournal read the former journal: UseJournal forgets it.
            await using var system = CreateSystem(p => p
                .UseReadJournalStore(new InMemoryJournal(p.Serialization))
                .UseJournal(serialization => new Recall.Samples.FileJournal.FileJournal(folder, serialization)));

            Assert.Null(system.Persistence().ReadJournalStore);
            var error = Assert.Throws<NotSupportedException>(() => system.Persistence().ReadJournal);
            Assert.Contains("FileJournal", error.Message, StringComparison.Ordinal);
            Assert.Contains("IReadJournalStore", error.Message, StringComparison.Ordinal);
            Assert.Contains("UseReadJournalStore", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_view_catches_up_and_then_follows_new_events()
    {
        await using var system = CreateSystem();
        var probe = new TestProbe(system);
        var account = system.Spawn(Props.Create(() => new Account("account|carol")));
        await DepositAsync(probe, account, 5, 7);

        var view = system.Spawn(Props.Create(() => new TotalView("account|carol", null)));
        await AwaitTotalAsync(view, new Total(12, 2));

        await DepositAsync(probe, account, 30);
        await AwaitTotalAsync(view, new Total(42, 3));
    }

    [Fact]
    public async Task A_view_with_a_view_id_starts_from_its_own_snapshot_and_replays_only_the_rest()
    {
        await using var system = CreateSystem();
        var probe = new TestProbe(system);
        var events = new TestProbe(system);
        var account = system.Spawn(Props.Create(() => new Account("account|dave")));
        await DepositAsync(probe, account, 1, 2, 3);

        var view = system.Spawn(Props.Create(() => new TotalView("account|dave", "dave-total", events.Ref)));
        await AwaitTotalAsync(view, new Total(6, 3));
        view.Tell(new Snap(), probe.Ref);
        Assert.Equal(3, (await events.FishForMessageAsync<SaveSnapshotSuccess>(_ => true)).Metadata.SequenceNumber);
        var watcher = new TestProbe(system);
        watcher.Watch(view);
        system.Stop(view);
        await watcher.ExpectTerminatedAsync(view);

        await DepositAsync(probe, account, 10);
        var fresh = new TestProbe(system);
        var again = system.Spawn(Props.Create(() => new TotalView("account|dave", "dave-total", fresh.Ref)));
        Assert.Equal(new ViewState(6), (await fresh.ExpectMsgAsync<SnapshotOffer>()).Snapshot);
        Assert.Equal(new Deposited(10), await fresh.ExpectMsgAsync<Deposited>());
        await AwaitTotalAsync(again, new Total(16, 4));
    }

    private static async Task AwaitTotalAsync(IActorRef view, Total expected)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
        Total last;
        do
        {
            last = await view.Ask<Total>(new GetTotal(), TestKitSettings.DefaultTimeout);
            if (last == expected)
            {
                return;
            }

            await Task.Delay(20);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(expected, last);
    }
}
