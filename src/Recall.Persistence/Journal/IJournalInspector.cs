using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;

namespace Recall.Persistence.Journal;

/// <summary>
/// Reads a store's tables for people and tools (the <c>recall journal</c> commands, tests): the
/// events as stored, and the cluster's leases, members and shards. Read-only: an inspector never
/// creates or changes anything. Each store opens its own (<c>new SqliteJournalInspector(path)</c>,
/// <c>PostgreSqlJournalInspector.OpenAsync(connectionString, schema)</c>).
/// </summary>
public interface IJournalInspector : IAsyncDisposable
{
    /// <summary>Where the tables are, for messages: a full path, or schema, database and server (never a password).</summary>
    string Location { get; }

    /// <summary>Every persistence id with stored events, in order of first appearance.</summary>
    Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken = default);

    /// <summary>The stored events of <paramref name="persistenceId"/> in sequence order (empty when it has none).</summary>
    Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken = default);

    /// <summary>The newest <paramref name="count"/> events, oldest first (in the order they were inserted).</summary>
    Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>The cluster's leases, by name (none where the store has no lease table).</summary>
    Task<IReadOnlyList<LeaseRecord>> LeasesAsync(CancellationToken cancellationToken = default);

    /// <summary>The cluster's members, by address (none where the store has no member table).</summary>
    Task<IReadOnlyList<MemberRecord>> MembersAsync(CancellationToken cancellationToken = default);

    /// <summary>The shards of cluster sharding: home and remembered entities (none where the store has no shard tables).</summary>
    Task<IReadOnlyList<ShardSummary>> ShardsAsync(CancellationToken cancellationToken = default);
}
