using Recall.Persistence.Journal;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;

namespace Recall.Cli;

/// <summary>What the journal commands read, from either store; opened by <see cref="OpenAsync"/>.</summary>
internal abstract class JournalReader : IAsyncDisposable
{
    /// <summary>Where the events are, for messages: a path, or schema, database and server (never a password).</summary>
    public abstract string Location { get; }

    /// <summary>Opens the store the settings name, read-only.</summary>
    /// <exception cref="SqliteStoreException">The file is missing, not a database, or not a Recall journal.</exception>
    /// <exception cref="PostgreSqlStoreException">The server cannot be reached, or the schema holds no Recall journal.</exception>
    /// <exception cref="CliException">The connection string or schema name is not valid.</exception>
    public static async Task<JournalReader> OpenAsync(StoreSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Postgres is null)
        {
            // SQLite reads are synchronous: off the caller's thread, so a progress display keeps moving.
            return await Task.Run(() => new Sqlite(new SqliteJournalInspector(settings.File!)), cancellationToken);
        }

        try
        {
            return new PostgreSql(await PostgreSqlJournalInspector.OpenAsync(settings.Postgres, settings.SchemaOrDefault, cancellationToken));
        }
        catch (ArgumentException exception)
        {
            throw new CliException(exception.Message, RecallApp.UsageError);
        }
    }

    /// <summary>Every persistence id with stored events, in order of first appearance.</summary>
    public abstract Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken);

    /// <summary>The events of one persistence id in sequence order (empty when it has none).</summary>
    public abstract Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="count"/> events, oldest first.</summary>
    public abstract Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken);

    /// <summary>The cluster's leases, by name.</summary>
    public abstract Task<IReadOnlyList<Persistence.Leases.LeaseRecord>> LeasesAsync(CancellationToken cancellationToken);

    /// <summary>The cluster's members, by address.</summary>
    public abstract Task<IReadOnlyList<Persistence.Membership.MemberRecord>> MembersAsync(CancellationToken cancellationToken);

    /// <summary>The shards of cluster sharding, by type and shard.</summary>
    public abstract Task<IReadOnlyList<Persistence.Sharding.ShardSummary>> ShardsAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    private sealed class Sqlite(SqliteJournalInspector inspector) : JournalReader
    {
        public override string Location => inspector.Path;

        public override Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken) =>
            Task.Run(() => inspector.PersistenceIds(), cancellationToken);

        public override Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken) =>
            Task.Run(() => inspector.Events(persistenceId), cancellationToken);

        public override Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken) =>
            Task.Run(() => inspector.Tail(count), cancellationToken);

        public override Task<IReadOnlyList<Persistence.Leases.LeaseRecord>> LeasesAsync(CancellationToken cancellationToken) =>
            Task.Run(() => inspector.Leases(), cancellationToken);

        public override Task<IReadOnlyList<Persistence.Membership.MemberRecord>> MembersAsync(CancellationToken cancellationToken) =>
            Task.Run(() => inspector.Members(), cancellationToken);

        public override Task<IReadOnlyList<Persistence.Sharding.ShardSummary>> ShardsAsync(CancellationToken cancellationToken) =>
            Task.Run(() => inspector.Shards(), cancellationToken);

        public override ValueTask DisposeAsync()
        {
            inspector.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class PostgreSql(PostgreSqlJournalInspector inspector) : JournalReader
    {
        public override string Location => inspector.Location;

        public override Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken) =>
            inspector.PersistenceIdsAsync(cancellationToken);

        public override Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken) =>
            inspector.EventsAsync(persistenceId, cancellationToken);

        public override Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken) =>
            inspector.TailAsync(count, cancellationToken);

        public override Task<IReadOnlyList<Persistence.Leases.LeaseRecord>> LeasesAsync(CancellationToken cancellationToken) =>
            inspector.LeasesAsync(cancellationToken);

        public override Task<IReadOnlyList<Persistence.Membership.MemberRecord>> MembersAsync(CancellationToken cancellationToken) =>
            inspector.MembersAsync(cancellationToken);

        public override Task<IReadOnlyList<Persistence.Sharding.ShardSummary>> ShardsAsync(CancellationToken cancellationToken) =>
            inspector.ShardsAsync(cancellationToken);

        public override ValueTask DisposeAsync() => inspector.DisposeAsync();
    }
}
