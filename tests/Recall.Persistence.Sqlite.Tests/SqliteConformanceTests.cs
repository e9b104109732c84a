using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.Sqlite.Tests;

public sealed class SqliteJournalConformanceTests : JournalConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override IJournal CreateJournal(EventSerialization serialization) =>
        new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization);

    public void Dispose() => _database.Dispose();
}

public sealed class SqliteSnapshotStoreConformanceTests : SnapshotStoreConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override ISnapshotStore CreateSnapshotStore(EventSerialization serialization) =>
        new SqliteSnapshotStore(new SqliteStoreOptions { Path = _database.Path }, serialization);

    public void Dispose() => _database.Dispose();
}
