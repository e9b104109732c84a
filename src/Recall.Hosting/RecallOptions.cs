using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;

namespace Recall.Hosting;

/// <summary>The store persistence uses when configuration chooses it (<c>Recall:Store</c>).</summary>
public enum RecallStore
{
    /// <summary>Process memory: lost when the process ends (tests, demos).</summary>
    Memory,

    /// <summary>One SQLite file (<c>Recall:Sqlite:Path</c>), the embedded default.</summary>
    Sqlite,

    /// <summary>PostgreSQL (<c>Recall:PostgreSql:ConnectionString</c>), for production and many processes.</summary>
    PostgreSql,
}

/// <summary>
/// Settings of the actor system a host runs, bound from configuration (the <c>Recall</c> section)
/// and/or set in code. Every property has a documented default. Configuration chooses the store
/// and its numbers; code adds what configuration cannot say (event types, adapters, a journal of
/// its own) with <see cref="UsePersistence"/> and <see cref="ConfigureActorSystem"/>, and runs after
/// it, so code wins where both set the same thing.
/// </summary>
public sealed class RecallOptions
{
    private readonly List<Action<PersistenceOptions>> _persistence = [];
    private readonly List<Action<ActorSystemOptions>> _actorSystem = [];

    /// <summary>The actor system's name (<c>Recall:SystemName</c>): ASCII letters, digits, '-' and '_'. Default <c>recall</c>.</summary>
    public string SystemName { get; set; } = "recall";

    /// <summary>
    /// The store (<c>Recall:Store</c>: <c>memory</c>, <c>sqlite</c> or <c>postgresql</c>, also spelt
    /// <c>postgres</c> as the <c>recall</c> tool does; any case), or null
    /// (the default) when configuration does not choose one: then the system has persistence only
    /// if <see cref="UsePersistence"/> configures it.
    /// </summary>
    public RecallStore? Store { get; set; }

    /// <summary>
    /// The SQLite store's settings (<c>Recall:Sqlite:Path</c>, <c>BusyTimeout</c>, <c>Durability</c>,
    /// <c>CreateIfMissing</c>), used when <see cref="Store"/> is <see cref="RecallStore.Sqlite"/>. A
    /// relative path is taken from the host's content root.
    /// </summary>
    public SqliteStoreOptions Sqlite { get; } = new();

    /// <summary>
    /// The PostgreSQL store's settings (<c>Recall:PostgreSql:ConnectionString</c>, <c>Schema</c>, ...),
    /// used when <see cref="Store"/> is <see cref="RecallStore.PostgreSql"/>.
    /// </summary>
    public PostgreSqlStoreOptions PostgreSql { get; } = new();

    /// <summary>Persistence numbers from configuration (<c>Recall:Persistence:MaxBatchSize</c>, ...); those left null keep their defaults.</summary>
    public RecallPersistenceOptions Persistence { get; } = new();

    /// <summary>
    /// How long the host's stop waits for the writes in flight to be stored and handled before the
    /// actor system terminates (<c>Recall:DrainTimeout</c>). Default 10 s, the journal call timeout.
    /// The host's own <c>HostOptions.ShutdownTimeout</c> (default 30 s) bounds the whole stop.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when the system gets persistence: a <see cref="Store"/> is chosen or <see cref="UsePersistence"/> was called.</summary>
    internal bool HasPersistence => Store is not null || _persistence.Count > 0;

    /// <summary>
    /// Configures persistence in code, after what configuration chose: for example
    /// <c>o.UsePersistence(p => p.UseSqlite("shop.db").Events.RegisterAssemblyOf&lt;Wallet&gt;())</c>.
    /// May be called several times; the calls run in order.
    /// </summary>
    public RecallOptions UsePersistence(Action<PersistenceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _persistence.Add(configure);
        return this;
    }

    /// <summary>
    /// Changes kernel settings (throughput, stash capacity, extensions) in code. The logger factory
    /// and the time provider come from the container; set them here only to override that.
    /// </summary>
    public RecallOptions ConfigureActorSystem(Action<ActorSystemOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _actorSystem.Add(configure);
        return this;
    }

    /// <summary>Applies the chosen store, the configured numbers, then the code's <see cref="UsePersistence"/> calls.</summary>
    /// <param name="persistence">The options to fill.</param>
    /// <param name="contentRoot">Where a relative SQLite path starts, or null for the working directory.</param>
    internal void ApplyPersistence(PersistenceOptions persistence, string? contentRoot)
    {
        ApplyStore(persistence, contentRoot);
        Persistence.ApplyTo(persistence);
        foreach (var configure in _persistence)
        {
            configure(persistence);
        }
    }

    /// <summary>Chooses the configured store; its settings are checked here (no connection is made yet).</summary>
    /// <exception cref="ArgumentException">A store setting is invalid.</exception>
    internal void ApplyStore(PersistenceOptions persistence, string? contentRoot)
    {
        switch (Store)
        {
            case RecallStore.Memory:
                persistence.UseInMemory();
                break;
            case RecallStore.Sqlite:
                persistence.UseSqlite(o =>
                {
                    o.Path = contentRoot is null ? Sqlite.Path : System.IO.Path.Combine(contentRoot, Sqlite.Path);
                    o.BusyTimeout = Sqlite.BusyTimeout;
                    o.Durability = Sqlite.Durability;
                    o.CreateIfMissing = Sqlite.CreateIfMissing;
                });
                break;
            case RecallStore.PostgreSql:
                persistence.UsePostgreSql(o =>
                {
                    o.ConnectionString = PostgreSql.ConnectionString;
                    o.Schema = PostgreSql.Schema;
                    o.CreateSchemaIfMissing = PostgreSql.CreateSchemaIfMissing;
                    o.MaxWriteConnections = PostgreSql.MaxWriteConnections;
                    o.MaxReadConnections = PostgreSql.MaxReadConnections;
                    o.CommandTimeout = PostgreSql.CommandTimeout;
                    o.ReplayPageSize = PostgreSql.ReplayPageSize;
                });
                break;
        }
    }

    internal void ApplyActorSystem(ActorSystemOptions options)
    {
        foreach (var configure in _actorSystem)
        {
            configure(options);
        }
    }
}

/// <summary>
/// The <see cref="PersistenceOptions"/> settings that configuration can set (the
/// <c>Recall:Persistence</c> section). Each left null keeps the default documented on
/// <see cref="PersistenceOptions"/>.
/// </summary>
public sealed class RecallPersistenceOptions
{
    /// <summary><see cref="PersistenceOptions.MaxBatchSize"/>: the most events in one journal batch.</summary>
    public int? MaxBatchSize { get; set; }

    /// <summary><see cref="PersistenceOptions.JournalCallTimeout"/>: how long a journal write may take.</summary>
    public TimeSpan? JournalCallTimeout { get; set; }

    /// <summary><see cref="PersistenceOptions.RecoveryEventTimeout"/>: how long recovery may wait for the store.</summary>
    public TimeSpan? RecoveryEventTimeout { get; set; }

    /// <summary><see cref="PersistenceOptions.MaxConcurrentRecoveries"/>: how many actors may recover at once.</summary>
    public int? MaxConcurrentRecoveries { get; set; }

    /// <summary><see cref="PersistenceOptions.CircuitBreakerMaxFailures"/>: consecutive failures before writes fail fast.</summary>
    public int? CircuitBreakerMaxFailures { get; set; }

    /// <summary><see cref="PersistenceOptions.CircuitBreakerResetTimeout"/>: how long writes fail fast.</summary>
    public TimeSpan? CircuitBreakerResetTimeout { get; set; }

    /// <summary><see cref="PersistenceOptions.InternalStashCapacity"/>: commands a persistent actor stashes while it persists.</summary>
    public int? InternalStashCapacity { get; set; }

    /// <summary><see cref="PersistenceOptions.InternalStashOverflow"/>: what happens beyond that capacity.</summary>
    public StashOverflowStrategy? InternalStashOverflow { get; set; }

    /// <summary><see cref="PersistenceOptions.ReplayFilter"/>: how replay treats interleaved writers.</summary>
    public ReplayFilterMode? ReplayFilter { get; set; }

    /// <summary><see cref="PersistenceOptions.SnapshotIsOptional"/>: whether an unreadable snapshot is skipped.</summary>
    public bool? SnapshotIsOptional { get; set; }

    internal void ApplyTo(PersistenceOptions options)
    {
        options.MaxBatchSize = MaxBatchSize ?? options.MaxBatchSize;
        options.JournalCallTimeout = JournalCallTimeout ?? options.JournalCallTimeout;
        options.RecoveryEventTimeout = RecoveryEventTimeout ?? options.RecoveryEventTimeout;
        options.MaxConcurrentRecoveries = MaxConcurrentRecoveries ?? options.MaxConcurrentRecoveries;
        options.CircuitBreakerMaxFailures = CircuitBreakerMaxFailures ?? options.CircuitBreakerMaxFailures;
        options.CircuitBreakerResetTimeout = CircuitBreakerResetTimeout ?? options.CircuitBreakerResetTimeout;
        options.InternalStashCapacity = InternalStashCapacity ?? options.InternalStashCapacity;
        options.InternalStashOverflow = InternalStashOverflow ?? options.InternalStashOverflow;
        options.ReplayFilter = ReplayFilter ?? options.ReplayFilter;
        options.SnapshotIsOptional = SnapshotIsOptional ?? options.SnapshotIsOptional;
    }
}
