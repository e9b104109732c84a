using Recall.Actors;
using Recall.Persistence.InMemory;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>What a persistent actor does with events of a journal that two writers interleaved.</summary>
public enum ReplayFilterMode
{
    /// <summary>Keep the newest writer's events and discard the older writer's, with a warning (the default).</summary>
    RepairByDiscardOld,

    /// <summary>Fail the recovery, naming the persistence id, sequence number and writers.</summary>
    Fail,

    /// <summary>Replay everything, with a warning.</summary>
    Warn,

    /// <summary>Replay everything silently.</summary>
    Off,
}

/// <summary>What happens to a command that arrives while a persistent actor's internal stash is full.</summary>
public enum StashOverflowStrategy
{
    /// <summary>The actor fails with <see cref="StashOverflowException"/> (its supervisor decides). The default.</summary>
    Fail,

    /// <summary>The command is dropped to dead letters and the actor goes on.</summary>
    Drop,
}

/// <summary>Settings of persistence in an actor system. Every property has a documented default.</summary>
public sealed class PersistenceOptions
{
    private Func<EventSerialization, IJournal>? _journal;
    private Func<EventSerialization, ISnapshotStore>? _snapshotStore;
    private int? _maxConcurrentWrites;
    private Func<EventSerialization, IReadJournalStore>? _readJournalStore;

    /// <summary>The manifest registry and serializer every store of the system uses. Default: JSON with a fresh registry.</summary>
    public EventSerialization Serialization { get; set; } = new();

    /// <summary>Shortcut to <see cref="EventSerialization.Registry"/>: register event and snapshot types here.</summary>
    public EventTypeRegistry Events => Serialization.Registry;

    /// <summary>Event adapters for schema evolution and tagging.</summary>
    public EventAdapters Adapters { get; } = new();

    /// <summary>Poll interval and page size of the read journal's streams (<c>system.Persistence().ReadJournal</c>).</summary>
    public ReadJournalOptions Query { get; } = new();

    /// <summary>The most events the journal front writes in one batch. Default 1,000.</summary>
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>
    /// How many batches the journal front may have in the store at once, each with other persistence
    /// ids (an id's writes never overlap). Default: the store's choice, 2 on PostgreSQL (batches go
    /// out on pooled connections and commit side by side, so a second batch is written while the
    /// first waits for its commit), 1 on the others.
    /// </summary>
    public int MaxConcurrentWrites
    {
        get => _maxConcurrentWrites ?? StoreConcurrentWrites;
        set => _maxConcurrentWrites = value;
    }

    /// <summary>The store's choice of <see cref="MaxConcurrentWrites"/>, set with its journal.</summary>
    internal int StoreConcurrentWrites { get; set; } = 1;

    /// <summary>How long a journal write may take before it counts as failed. Default 10 s.</summary>
    public TimeSpan JournalCallTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long recovery may wait for the snapshot, the next replayed event or the highest sequence number. Default 30 s.</summary>
    public TimeSpan RecoveryEventTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many actors may recover at the same time; the rest wait their turn. Default 50.</summary>
    public int MaxConcurrentRecoveries { get; set; } = 50;

    /// <summary>Consecutive journal failures (or timeouts) after which writes fail fast without calling the store. Default 10.</summary>
    public int CircuitBreakerMaxFailures { get; set; } = 10;

    /// <summary>How long the circuit breaker fails fast before it lets one write probe the store again. Default 30 s.</summary>
    public TimeSpan CircuitBreakerResetTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How replay treats events of an old writer interleaved with a newer one. Default <see cref="ReplayFilterMode.RepairByDiscardOld"/>.</summary>
    public ReplayFilterMode ReplayFilter { get; set; } = ReplayFilterMode.RepairByDiscardOld;

    /// <summary>
    /// Whether a snapshot that cannot be loaded (unknown manifest, bad payload) is skipped in favour
    /// of a full replay of the events. Default false: recovery fails, naming the snapshot.
    /// </summary>
    public bool SnapshotIsOptional { get; set; }

    /// <summary>How many commands a persistent actor stashes while it waits for writes. Default 100,000.</summary>
    public int InternalStashCapacity { get; set; } = 100_000;

    /// <summary>What happens to a command beyond <see cref="InternalStashCapacity"/>. Default <see cref="StashOverflowStrategy.Fail"/>.</summary>
    public StashOverflowStrategy InternalStashOverflow { get; set; } = StashOverflowStrategy.Fail;

    /// <summary>Stores events and snapshots in process memory (tests and benchmarks).</summary>
    /// <param name="serialize">
    /// True (default) serializes events as a real store would; false keeps the event objects themselves
    /// (see <see cref="InMemoryJournal"/>). Snapshots are serialized either way.
    /// </param>
    public PersistenceOptions UseInMemory(bool serialize = true)
    {
        // The journal lists the snapshot store's persistence ids on the read side: they share.
        InMemorySnapshotStore? snapshots = null;
        InMemorySnapshotStore Snapshots(EventSerialization serialization) => snapshots ??= new InMemorySnapshotStore(serialization);
        return UseJournal(serialization => new InMemoryJournal(serialization, Snapshots(serialization), serialize))
            .UseSnapshotStore(Snapshots);
    }

    /// <summary>Stores events in <paramref name="journal"/>.</summary>
    public PersistenceOptions UseJournal(IJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        return UseJournal(_ => journal);
    }

    /// <summary>
    /// Stores events in the journal <paramref name="factory"/> creates with the system's serialization.
    /// A read store chosen before (<see cref="UseReadJournalStore(Func{EventSerialization, IReadJournalStore})"/>)
    /// is forgotten, as it read the former journal's storage: choose one after this call.
    /// </summary>
    public PersistenceOptions UseJournal(Func<EventSerialization, IJournal> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _journal = factory;
        _readJournalStore = null;
        StoreConcurrentWrites = 1;
        return this;
    }

    /// <summary>Reads the journal as streams (<see cref="PersistenceExtension.ReadJournal"/>) through <paramref name="store"/>.</summary>
    public PersistenceOptions UseReadJournalStore(IReadJournalStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return UseReadJournalStore(_ => store);
    }

    /// <summary>
    /// Reads the journal as streams (<see cref="PersistenceExtension.ReadJournal"/>) through the
    /// store <paramref name="factory"/> creates with the system's serialization, after the journal.
    /// Without one the system reads its journal, when the journal implements
    /// <see cref="IReadJournalStore"/>. The store packages' <c>Use...</c> methods choose their own.
    /// </summary>
    public PersistenceOptions UseReadJournalStore(Func<EventSerialization, IReadJournalStore> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _readJournalStore = factory;
        return this;
    }

    /// <summary>Stores snapshots in <paramref name="snapshotStore"/>.</summary>
    public PersistenceOptions UseSnapshotStore(ISnapshotStore snapshotStore)
    {
        ArgumentNullException.ThrowIfNull(snapshotStore);
        return UseSnapshotStore(_ => snapshotStore);
    }

    /// <summary>Stores snapshots in the store <paramref name="factory"/> creates with the system's serialization.</summary>
    public PersistenceOptions UseSnapshotStore(Func<EventSerialization, ISnapshotStore> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _snapshotStore = factory;
        return this;
    }

    internal IJournal CreateJournal() =>
        (_journal ?? throw new InvalidOperationException("No journal is configured: call UsePersistence(p => p.UseInMemory()) or another store's Use... method."))(Serialization);

    internal ISnapshotStore? CreateSnapshotStore() => _snapshotStore?.Invoke(Serialization);

    internal IReadJournalStore? CreateReadJournalStore() => _readJournalStore?.Invoke(Serialization);

    internal void Validate()
    {
        Positive(MaxBatchSize, nameof(MaxBatchSize));
        Positive(MaxConcurrentWrites, nameof(MaxConcurrentWrites));
        Positive(MaxConcurrentRecoveries, nameof(MaxConcurrentRecoveries));
        Positive(CircuitBreakerMaxFailures, nameof(CircuitBreakerMaxFailures));
        Positive(InternalStashCapacity, nameof(InternalStashCapacity));
        Positive(JournalCallTimeout, nameof(JournalCallTimeout));
        Positive(RecoveryEventTimeout, nameof(RecoveryEventTimeout));
        Positive(CircuitBreakerResetTimeout, nameof(CircuitBreakerResetTimeout));
        ArgumentNullException.ThrowIfNull(Serialization, nameof(Serialization));
        Query.Validate();
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"PersistenceOptions.{name} must be positive.");
        }
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"PersistenceOptions.{name} must be positive.");
        }
    }
}

/// <summary>Wires persistence into an actor system.</summary>
public static class PersistenceActorSystemOptionsExtensions
{
    /// <summary>Enables persistent actors in the system, with the stores and settings <paramref name="configure"/> chooses.</summary>
    public static ActorSystemOptions UsePersistence(this ActorSystemOptions options, Action<PersistenceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        var persistence = new PersistenceOptions();
        configure(persistence);
        persistence.Validate();
        return options.AddExtension(system => new PersistenceExtension(system, persistence));
    }

    /// <summary>The persistence of <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">The system was created without <c>UsePersistence</c>.</exception>
    public static PersistenceExtension Persistence(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<PersistenceExtension>() ?? throw new InvalidOperationException(
            $"Actor system '{system.Name}' has no persistence: create it with ActorSystem.Create(\"{system.Name}\", o => o.UsePersistence(p => p.UseInMemory())) or another store.");
    }
}
