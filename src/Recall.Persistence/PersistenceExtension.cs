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
        RecoveryPermits = new SemaphoreSlim(options.MaxConcurrentRecoveries, options.MaxConcurrentRecoveries);
        Breaker = new CircuitBreaker(options.CircuitBreakerMaxFailures, options.CircuitBreakerResetTimeout, system.TimeProvider);
        JournalFront = system.SpawnSystemActor(Props.Create(() => new JournalFront(Journal, options, Breaker)), "journal");
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
    /// The journal read as streams (CQRS read side), with the system's read adapters and
    /// <see cref="PersistenceOptions.Query"/> settings.
    /// </summary>
    /// <exception cref="NotSupportedException">The journal cannot be read as streams (it does not implement <see cref="IReadJournalStore"/>).</exception>
    public IReadJournal ReadJournal => _readJournal ??= new ReadJournal(
        Journal as IReadJournalStore ?? throw new NotSupportedException($"The journal {Journal.GetType().Name} cannot be read as streams: it does not implement IReadJournalStore."),
        Options.Adapters,
        Options.Query,
        System.TimeProvider);

    /// <summary>The manifest registry and serializer of every store.</summary>
    public EventSerialization Serialization => Options.Serialization;

    internal IActorRef JournalFront { get; }

    private IReadJournal? _readJournal;

    internal SemaphoreSlim RecoveryPermits { get; }

    internal CircuitBreaker Breaker { get; }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        RecoveryPermits.Dispose();
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
