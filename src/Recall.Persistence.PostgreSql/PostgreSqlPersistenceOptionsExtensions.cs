namespace Recall.Persistence.PostgreSql;

/// <summary>Chooses the PostgreSQL store.</summary>
public static class PostgreSqlPersistenceOptionsExtensions
{
    /// <summary>
    /// Stores events and snapshots in the database of <paramref name="connectionString"/> (an Npgsql
    /// connection string), in the schema <c>recall</c>, created on first use, and reads them there as streams.
    /// </summary>
    /// <exception cref="ArgumentException">The connection string is empty or invalid.</exception>
    public static PersistenceOptions UsePostgreSql(this PersistenceOptions options, string connectionString) =>
        options.UsePostgreSql(o => o.ConnectionString = connectionString);

    /// <summary>Stores events and snapshots in PostgreSQL with the settings <paramref name="configure"/> chooses, and reads them there as streams.</summary>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public static PersistenceOptions UsePostgreSql(this PersistenceOptions options, Action<PostgreSqlStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        var settings = new PostgreSqlStoreOptions();
        configure(settings);
        settings.Validate();

        // Journal, read store and snapshot store share the connection pools (and the read side's
        // listener, so live streams wake at the journal's writes); the last one disposed closes them.
        // The factories run once per actor system, so each system gets its own pools.
        PostgreSqlDatabase? database = null;
        PostgreSqlDatabase Database() => database is null ? database = new PostgreSqlDatabase(settings) : database.Acquire();
        options
            .UseJournal(serialization => new PostgreSqlJournal(Database(), serialization))
            .UseReadJournalStore(serialization => new PostgreSqlReadJournalStore(Database(), serialization))
            .UseSnapshotStore(serialization => new PostgreSqlSnapshotStore(Database(), serialization));

        // Two batches in the database at once: one is written while the other waits for its commit
        // (persist-many: 30-31k -> 33-40k events/s on one 2-core machine).
        options.StoreConcurrentWrites = 2;
        return options;
    }
}
