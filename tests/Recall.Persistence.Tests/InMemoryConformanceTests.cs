using Recall.Persistence.InMemory;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.Tests;

public sealed class InMemoryJournalConformanceTests : JournalConformance
{
    protected override IJournal CreateJournal(EventSerialization serialization) => new InMemoryJournal(serialization);
}

public sealed class InMemorySnapshotStoreConformanceTests : SnapshotStoreConformance
{
    protected override ISnapshotStore CreateSnapshotStore(EventSerialization serialization) => new InMemorySnapshotStore(serialization);
}

public sealed class InMemoryQueryConformanceTests : QueryConformance
{
    protected override (IReadJournalStore Journal, ISnapshotStore Snapshots) CreateStores(EventSerialization serialization)
    {
        var snapshots = new InMemorySnapshotStore(serialization);
        return (new InMemoryJournal(serialization, snapshots), snapshots);
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
