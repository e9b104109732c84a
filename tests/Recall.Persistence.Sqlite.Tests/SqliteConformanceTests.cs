using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
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

public sealed class SqliteQueryConformanceTests : QueryConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override (IJournal Journal, IReadJournalStore Reads, ISnapshotStore Snapshots) CreateStores(EventSerialization serialization)
    {
        // As UseSqlite wires them: one file, one writer thread; the journal owns the database, and
        // its read store wakes at its writes.
        var database = new SqliteDatabase(new SqliteStoreOptions { Path = _database.Path });
        var journal = new SqliteJournal(database, serialization, ownsDatabase: true);
        return (journal, journal.Reads, new SqliteSnapshotStore(database, serialization, ownsDatabase: false));
    }

    /// <summary>Q21's failed write: a transaction of another connection inserts a tagged event of the id, then rolls back.</summary>
    protected override Task WriteFailedAsync(IJournal journal, string persistenceId, long sequenceNumber)
    {
        using var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags, entity_type, slice)
            VALUES ($pid, $seq, 'rolled-back', 0, 'tck.query-happened.v1', X'7B7D', $tags, $entity, $slice);
            INSERT INTO journal_tags (tag, ordering) VALUES ($tag, last_insert_rowid());
            """;
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$seq", sequenceNumber);
        command.Parameters.AddWithValue("$tags", $"[\"{Green}\"]");
        command.Parameters.AddWithValue("$tag", Green);
        command.Parameters.AddWithValue("$entity", Slices.EntityTypeOf(persistenceId));
        command.Parameters.AddWithValue("$slice", Slices.Of(persistenceId));
        command.ExecuteNonQuery();
        transaction.Rollback();
        return Task.CompletedTask;
    }

    public void Dispose() => _database.Dispose();
}

public sealed class SqliteLeaseStoreConformanceTests : LeaseStoreConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override Recall.Persistence.Leases.ILeaseStore CreateStore() => new SqliteLeaseStore(new SqliteStoreOptions { Path = _database.Path });

    public void Dispose() => _database.Dispose();
}

public sealed class SqliteMembershipStoreConformanceTests : MembershipStoreConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override Recall.Persistence.Membership.IMembershipStore CreateStore() => new SqliteMembershipStore(new SqliteStoreOptions { Path = _database.Path });

    public void Dispose() => _database.Dispose();
}

public sealed class SqliteShardStoreConformanceTests : ShardStoreConformance, IDisposable
{
    private readonly TempDatabase _database = new();

    protected override Recall.Persistence.Sharding.IShardStore CreateStore() => new SqliteShardStore(new SqliteStoreOptions { Path = _database.Path });

    public void Dispose() => _database.Dispose();
}
