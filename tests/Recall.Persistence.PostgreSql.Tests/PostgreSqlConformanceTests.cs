using Recall.Persistence.Journal;
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
