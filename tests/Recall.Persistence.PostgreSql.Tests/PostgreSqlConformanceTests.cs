using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>The journal conformance suite; each test gets a fresh schema, dropped afterwards.</summary>
[RequiresPostgres]
public sealed class PostgreSqlJournalConformanceTests : JournalConformance
{
    private readonly string _schema = PostgresServer.NewSchema("journal");

    protected override IJournal CreateJournal(EventSerialization serialization) =>
        new PostgreSqlJournal(PostgresServer.Options(_schema), serialization);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>The snapshot store conformance suite; each test gets a fresh schema, dropped afterwards.</summary>
[RequiresPostgres]
public sealed class PostgreSqlSnapshotStoreConformanceTests : SnapshotStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("snapshots");

    protected override ISnapshotStore CreateSnapshotStore(EventSerialization serialization) =>
        new PostgreSqlSnapshotStore(PostgresServer.Options(_schema), serialization);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>
/// The query conformance suite, written through the journal and read through its read store; each
/// test gets a fresh schema, dropped afterwards. Q21's failed write is a transaction that inserts
/// with the journal's own statement and rolls back.
/// </summary>
[RequiresPostgres]
public sealed class PostgreSqlQueryConformanceTests : QueryConformance
{
    private readonly string _schema = PostgresServer.NewSchema("query");

    protected override (IJournal Journal, IReadJournalStore Reads, ISnapshotStore Snapshots) CreateStores(EventSerialization serialization)
    {
        var database = new PostgreSqlDatabase(PostgresServer.Options(_schema));
        var journal = new PostgreSqlJournal(database, serialization);
        return (journal, journal.Reads, new PostgreSqlSnapshotStore(database.Acquire(), serialization));
    }

    protected override async Task WriteFailedAsync(IJournal journal, string persistenceId, long sequenceNumber)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await ((PostgreSqlJournal)journal).InsertInTransactionAsync(
            transaction, [new AtomicWrite([Event(persistenceId, sequenceNumber, green: true), Event(persistenceId, sequenceNumber + 1, green: true)])], default);
        await transaction.RollbackAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>The lease store conformance suite; each test gets a fresh schema, dropped afterwards.</summary>
[RequiresPostgres]
public sealed class PostgreSqlLeaseStoreConformanceTests : LeaseStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("leases");

    protected override Recall.Persistence.Leases.ILeaseStore CreateStore() => new PostgreSqlLeaseStore(PostgresServer.Options(_schema));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>The membership store conformance suite; each test gets a fresh schema, dropped afterwards.</summary>
[RequiresPostgres]
public sealed class PostgreSqlMembershipStoreConformanceTests : MembershipStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("members");

    protected override Recall.Persistence.Membership.IMembershipStore CreateStore() => new PostgreSqlMembershipStore(PostgresServer.Options(_schema));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>The shard store conformance suite; each test gets a fresh schema, dropped afterwards.</summary>
[RequiresPostgres]
public sealed class PostgreSqlShardStoreConformanceTests : ShardStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("shards");

    protected override Recall.Persistence.Sharding.IShardStore CreateStore() => new PostgreSqlShardStore(PostgresServer.Options(_schema));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }
}
