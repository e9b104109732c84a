namespace Recall.Persistence.Sqlite;

/// <summary>Chooses the SQLite store.</summary>
public static class SqlitePersistenceOptionsExtensions
{
    /// <summary>Stores events and snapshots in the SQLite file at <paramref name="path"/> (created if missing), and reads them there as streams.</summary>
    public static PersistenceOptions UseSqlite(this PersistenceOptions options, string path) =>
        options.UseSqlite(o => o.Path = path);

    /// <summary>Stores events and snapshots in a SQLite file with the settings <paramref name="configure"/> chooses, and reads them there as streams.</summary>
    public static PersistenceOptions UseSqlite(this PersistenceOptions options, Action<SqliteStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        var settings = new SqliteStoreOptions();
        configure(settings);
        settings.Validate();

        // Journal, read store and snapshot store share one database (one writer thread, one write
        // notifier, so live streams wake at the journal's writes); the journal owns it.
        SqliteDatabase? database = null;
        SqliteDatabase Database() => database ??= new SqliteDatabase(settings);
        return options
            .UseJournal(serialization => new SqliteJournal(Database(), serialization, ownsDatabase: true))
            .UseReadJournalStore(serialization => new SqliteReadJournalStore(Database(), serialization, ownsDatabase: false))
            .UseSnapshotStore(serialization => new SqliteSnapshotStore(Database(), serialization, ownsDatabase: false));
    }
}
