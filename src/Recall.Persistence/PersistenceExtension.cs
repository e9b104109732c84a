using Recall.Actors;
using Recall.Persistence.Internal;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>
/// Persistence in one actor system: its stores, serialization and the journal front that
/// batches the writes of every persistent actor. Reach it with <c>system.Persistence()</c>.
/// </summary>
public sealed partial class PersistenceExtension : IAsyncDisposable
{
    internal PersistenceExtension(ActorSystem system, PersistenceOptions options)
    {
        System = system;
        Options = options;
        options.Serialization.BindTo(system);
        Journal = options.CreateJournal();
        SnapshotStore = options.CreateSnapshotStore();
        ReadJournalStore = options.CreateReadJournalStore() ?? Journal as IReadJournalStore;
        RecoveryPermits = new SemaphoreSlim(options.MaxConcurrentRecoveries, options.MaxConcurrentRecoveries);
        Breaker = new CircuitBreaker(options.CircuitBreakerMaxFailures, options.CircuitBreakerResetTimeout, system.TimeProvider);
        JournalFront = system.SpawnSystemActor(Props.Create(() => new JournalFront(Journal, options, Breaker, AbandonedWrites)), "journal");
    }

    /// <summary>The system this belongs to.</summary>
    public ActorSystem System { get; }

    /// <summary>The settings.</summary>
    public PersistenceOptions Options { get; }

    /// <summary>The event store.</summary>
    public IJournal Journal { get; }

    /// <summary>The snapshot store, or null when none is configured (snapshots then fail with a clear error).</summary>
    public ISnapshotStore? SnapshotStore { get; }

    /// <summary>
    /// The store of the read side: the one <see cref="PersistenceOptions.UseReadJournalStore(Func{EventSerialization, IReadJournalStore})"/>
    /// chose, else the journal when it implements <see cref="IReadJournalStore"/>, else null.
    /// </summary>
    public IReadJournalStore? ReadJournalStore { get; }

    /// <summary>
    /// The journal read as streams (CQRS read side) through <see cref="ReadJournalStore"/>, with the
    /// system's read adapters and <see cref="PersistenceOptions.Query"/> settings.
    /// </summary>
    /// <exception cref="NotSupportedException">No read store is configured and the journal does not implement <see cref="IReadJournalStore"/>.</exception>
    public IReadJournal ReadJournal => _readJournal ??= new ReadJournal(
        ReadJournalStore ?? throw new NotSupportedException(
            $"The journal {Journal.GetType().Name} cannot be read as streams: it does not implement IReadJournalStore, and no read store is configured (PersistenceOptions.UseReadJournalStore)."),
        Options.Adapters,
        Options.Query,
        System.TimeProvider);

    /// <summary>The manifest registry and serializer of every store.</summary>
    public EventSerialization Serialization => Options.Serialization;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<ActorPath, long> _fencingTokens = new();

    /// <summary>
    /// Makes every write of the persistent actor that starts at <paramref name="actor"/>, or below it
    /// (its children, their children), carry <paramref name="token"/>, the fencing token of the lease
    /// that makes it the owner of its persistence ids (a cluster singleton or shard sets it before
    /// spawning the actor). The journal refuses writes of an older token once it has seen a newer
    /// one: a paused or partitioned old owner cannot append after a new owner has. Read when the
    /// actor starts (and restarts); the nearest path with a token wins.
    /// </summary>
    public void SetFencingToken(ActorPath actor, long token)
    {
        ArgumentNullException.ThrowIfNull(actor);
        _fencingTokens[actor] = token;
    }

    /// <summary>Forgets the fencing token of <paramref name="actor"/>: an actor started there later writes unfenced.</summary>
    public void ClearFencingToken(ActorPath actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        _fencingTokens.TryRemove(actor, out _);
    }

    /// <summary>The fencing token an actor at <paramref name="actor"/> writes with: its own, or its nearest ancestor's (a sharded entity has its shard's); null when unfenced.</summary>
    public long? FencingTokenOf(ActorPath actor)
    {
        for (var path = actor; path is not null && !_fencingTokens.IsEmpty; path = path.Parent)
        {
            if (_fencingTokens.TryGetValue(path, out var token))
            {
                return token;
            }
        }

        return null;
    }

    internal IActorRef JournalFront { get; }

    private IReadJournal? _readJournal;

    internal SemaphoreSlim RecoveryPermits { get; }

    internal AbandonedWrites AbandonedWrites { get; } = new();

    internal CircuitBreaker Breaker { get; }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        RecoveryPermits.Dispose();

        // The reader first: it may share the journal's storage, which the journal closes.
        if (ReadJournalStore is IAsyncDisposable reads && !ReferenceEquals(ReadJournalStore, Journal) && !ReferenceEquals(ReadJournalStore, SnapshotStore))
        {
            await reads.DisposeAsync();
        }

        if (SnapshotStore is IAsyncDisposable snapshots && !ReferenceEquals(SnapshotStore, Journal))
        {
            await snapshots.DisposeAsync();
        }

        if (Journal is IAsyncDisposable journal)
        {
            await journal.DisposeAsync();
        }
    }
}
