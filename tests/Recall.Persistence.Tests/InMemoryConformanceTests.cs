using Recall.Persistence.InMemory;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.Tests;

public sealed class InMemoryJournalConformanceTests : JournalConformance
{
    protected override IJournal CreateJournal(EventSerialization serialization) => new InMemoryJournal(serialization);
}

/// <summary>The journal that keeps event objects instead of serializing them passes the same checklist.</summary>
public sealed class InMemoryObjectJournalConformanceTests : JournalConformance
{
    protected override IJournal CreateJournal(EventSerialization serialization) => new InMemoryJournal(serialization, serialize: false);
}

public sealed class InMemorySnapshotStoreConformanceTests : SnapshotStoreConformance
{
    protected override ISnapshotStore CreateSnapshotStore(EventSerialization serialization) => new InMemorySnapshotStore(serialization);
}

public sealed class InMemoryQueryConformanceTests : QueryConformance
{
    protected override (IJournal Journal, IReadJournalStore Reads, ISnapshotStore Snapshots) CreateStores(EventSerialization serialization)
    {
        // One class is both the journal and its read store.
        var snapshots = new InMemorySnapshotStore(serialization);
        var journal = new InMemoryJournal(serialization, snapshots);
        return (journal, journal, snapshots);
    }
}

public sealed class InMemoryLeaseStoreConformanceTests : LeaseStoreConformance
{
    private readonly Recall.Persistence.Leases.InMemoryLeaseStore _store = new();

    protected override Recall.Persistence.Leases.ILeaseStore CreateStore() => _store; // one store stands for one shared database
}

public sealed class InMemoryMembershipStoreConformanceTests : MembershipStoreConformance
{
    private readonly Recall.Persistence.Membership.InMemoryMembershipStore _store = new();

    protected override Recall.Persistence.Membership.IMembershipStore CreateStore() => _store; // one store stands for one shared database
}

public sealed class InMemoryShardStoreConformanceTests : ShardStoreConformance
{
    private readonly Recall.Persistence.Sharding.InMemoryShardStore _store = new();

    protected override Recall.Persistence.Sharding.IShardStore CreateStore() => _store; // one store stands for one shared database
}

public sealed class InMemoryJournalSerializationTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Replay_returns_fresh_objects_when_serializing_and_the_persisted_ones_when_not(bool serialize)
    {
        var serialization = new EventSerialization(new EventTypeRegistry().Register<Deposited>(), new JsonEventSerializer());
        var journal = new InMemoryJournal(serialization, serialize: serialize);
        var persisted = new Deposited(42);

        var results = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("account-1", 1, persisted))], default);
        Assert.Null(Assert.Single(results));

        var replayed = new List<PersistentRepr>();
        await foreach (var repr in journal.ReplayAsync("account-1", 1, long.MaxValue, long.MaxValue, default))
        {
            replayed.Add(repr);
        }

        var single = Assert.Single(replayed);
        Assert.Equal("test.deposited.v1", single.Manifest);
        Assert.Equal(persisted, single.Payload);
        Assert.Equal(!serialize, ReferenceEquals(persisted, single.Payload));
    }

    [Fact]
    public async Task A_journal_that_keeps_objects_still_refuses_an_unregistered_event_type()
    {
        var journal = new InMemoryJournal(new EventSerialization(new EventTypeRegistry(), new JsonEventSerializer()), serialize: false);

        var results = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("account-1", 1, new Unregistered(1)))], default);

        Assert.IsType<UnregisteredEventTypeException>(Assert.Single(results));
        Assert.Equal(0, await journal.ReadHighestSequenceNumberAsync("account-1", 0, default));
    }

    [EventType("test.deposited.v1")]
    public sealed record Deposited(int Amount);

    public sealed record Unregistered(int Amount);
}
