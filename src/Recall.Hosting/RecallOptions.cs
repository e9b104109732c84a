using Recall.Actors;
using Recall.Hosting.Internal;
using Recall.Persistence;

namespace Recall.Hosting;

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
    /// The name of the store to run on (<c>Recall:Store</c>, any case): <c>memory</c>, or a store
    /// added with its package's method on <see cref="RecallBuilder"/> (<c>sqlite</c> with
    /// <c>UseSqlite()</c>; <c>postgresql</c>, also spelt <c>postgres</c> as the <c>recall</c> tool
    /// does, with <c>UsePostgreSql()</c>). Null (the default): the store added last, or none when no
    /// store was added (then the system has persistence only if <see cref="UsePersistence"/>
    /// configures it).
    /// </summary>
    public string? Store { get; set; }

    /// <summary>Persistence numbers from configuration (<c>Recall:Persistence:MaxBatchSize</c>, ...); those left null keep their defaults.</summary>
    public RecallPersistenceOptions Persistence { get; } = new();

    /// <summary>
    /// How long the host's stop waits for the writes in flight to be stored and handled before the
    /// actor system terminates (<c>Recall:DrainTimeout</c>). Default 10 s, the journal call timeout.
    /// The host's own <c>HostOptions.ShutdownTimeout</c> (default 30 s) bounds the whole stop.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>True when <see cref="UsePersistence"/> was called.</summary>
    internal bool ConfiguresPersistence => _persistence.Count > 0;

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

    /// <summary>Applies the chosen store (none, memory or an added one), the configured numbers, then the code's <see cref="UsePersistence"/> calls.</summary>
    internal void ApplyPersistence(PersistenceOptions persistence, StoreChoice store, IServiceProvider services)
    {
        if (store.IsMemory)
        {
            persistence.UseInMemory();
        }

        store.Added?.Apply(persistence, services);
        Persistence.ApplyTo(persistence);
        foreach (var configure in _persistence)
        {
            configure(persistence);
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
