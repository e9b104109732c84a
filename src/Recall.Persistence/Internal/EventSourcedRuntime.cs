using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// The runtime of one event-sourced actor incarnation: the state its two phases share
/// (<see cref="RecoveryPhase"/>, then <see cref="RunningPhase"/>) and the entry points the actor
/// calls. Both APIs make it with the actor instance, which the kernel makes anew for each
/// incarnation, and forward their lifecycle to it: <see cref="Start"/> after PreStart (or
/// PostRestart), <see cref="OnRestarting"/>, <see cref="OnStopped"/>. So a restart has a new
/// runtime, with a new writer id.
/// </summary>
internal sealed partial class EventSourcedRuntime
{
    private static int s_incarnations;
    private string? _writerId;
    private CancellationTokenSource? _recoveryCancellation;
    private StoreOperations? _storeOperations;
    private bool _started;

    public EventSourcedRuntime(Actor actor, IEventSourcedBehavior behavior)
    {
        Behavior = behavior;
        Cell = actor.Cell;
        Persistence = Cell.System.Persistence();
        Incarnation = Interlocked.Increment(ref s_incarnations);
        Running = new RunningPhase(this);
    }

    public IEventSourcedBehavior Behavior { get; }

    public ActorCell Cell { get; }

    public PersistenceExtension Persistence { get; }

    public PersistenceOptions Options => Persistence.Options;

    /// <summary>Tells this incarnation's journal responses from those of an earlier one.</summary>
    public int Incarnation { get; }

    /// <summary>Written with every event, so replay can tell two writers apart.</summary>
    public string WriterId => _writerId ??= Guid.NewGuid().ToString("N");

    public string PersistenceId { get; private set; } = "";

    public RunningPhase Running { get; }

    public bool IsRecovering { get; set; } = true;

    public bool IsStopping { get; private set; }

    /// <summary>The sequence number of the last event stored and applied.</summary>
    public long LastSequenceNumber { get; set; }

    /// <summary>The sequence number the next persisted event gets, minus one.</summary>
    public long AssignedSequenceNumber { get; set; }

    /// <summary>The sequence number of the snapshot recovery started from, or 0.</summary>
    public long SnapshotSequenceNumber { get; set; }

    public RecoveryPermit? Permit { get; set; }

    /// <summary>Carried by the store calls of this incarnation's recovery; cancelled when it stops or restarts.</summary>
    public CancellationToken RecoveryCancellation => (_recoveryCancellation ??= new CancellationTokenSource()).Token;

    /// <summary>The actor stopped or restarted: this runtime no longer owns the cell.</summary>
    public bool IsAbandoned { get; private set; }

    /// <summary>The token every write of this incarnation carries (set by whoever made it the owner), or null.</summary>
    public long? FencingToken { get; private set; }

    /// <summary>Deleting events and saving or deleting snapshots, one call after another.</summary>
    public StoreOperations StoreOperations => _storeOperations ??= new StoreOperations(this);

    public ILogger Logger => Cell.System.LoggerFactory.CreateLogger("Recall.Persistence");

    /// <summary>Starts recovery (after the actor's PreStart or PostRestart); commands wait in the mailbox until it completes.</summary>
    public void Start()
    {
        if (_started)
        {
            throw new InvalidOperationException($"The persistent actor at {Cell.Self.Path} was started twice: its Props must create a new instance each time.");
        }

        _started = true;
        var id = Behavior.PersistenceId;
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidOperationException($"The persistent actor at {Cell.Self.Path} has an empty PersistenceId.");
        }

        PersistenceId = id;
        FencingToken = Persistence.FencingTokenOf(Cell.Self.Path);
        Cell.RunTask(() => RecoveryPhase.RunAsync(this));
    }

    public void Receive(object message) => Running.Receive(message);

    /// <summary>Stops the actor: after a failure it cannot recover from (persist or recovery failure), or on a <see cref="GracefulStop"/> once its writes are handled.</summary>
    /// <param name="reason">Why it stops when it is a failure (told to asks whose message it cannot take), null for a requested stop.</param>
    public void Stop(string? reason = null)
    {
        IsStopping = true;
        Cell.StopReason ??= reason;
        Cell.Stop(Cell.Self);
    }

    /// <summary>The actor stopped: give back a recovery permit and what waits in the internal stash.</summary>
    public void OnStopped()
    {
        Abandon();
        Permit?.Release();
        Running.AbandonWrites();
        Running.DropStash();
    }

    /// <summary>The actor restarts: put the internally stashed commands back in front of the mailbox.</summary>
    public void OnRestarting()
    {
        Abandon();
        Permit?.Release();
        Running.AbandonWrites();
        Running.ReturnStashToMailbox();
    }

    private void Abandon()
    {
        IsStopping = true;
        IsAbandoned = true;
        if (IsRecovering && _recoveryCancellation is { } cancellation)
        {
            // Not on the actor's thread: a store may do I/O when told to cancel (PostgreSQL sends a cancel request).
            _ = cancellation.CancelAsync();
        }
    }

    public PersistentRepr ToRepr(object @event, long sequenceNumber)
    {
        var adapters = Options.Adapters;
        var (payload, tags) = adapters.IsEmpty
            ? (@event is Serialization.Tagged tagged ? (tagged.Payload, tagged.Tags) : (@event, []))
            : adapters.ToJournal(@event);
        return new PersistentRepr(PersistenceId, sequenceNumber, payload)
        {
            WriterId = WriterId,
            Timestamp = Cell.System.TimeProvider.GetUtcNow(),
            Tags = tags,
        };
    }

    public static partial class Log
    {
        [LoggerMessage(200, LogLevel.Error, "Persist of event {SequenceNumber} ({EventType}) of '{PersistenceId}' failed; the actor stops")]
        public static partial void PersistFailed(ILogger logger, Exception exception, string persistenceId, long sequenceNumber, string eventType);

        [LoggerMessage(201, LogLevel.Warning, "Persist of event {SequenceNumber} ({EventType}) of '{PersistenceId}' was rejected; the actor goes on")]
        public static partial void PersistRejected(ILogger logger, Exception exception, string persistenceId, long sequenceNumber, string eventType);

        [LoggerMessage(202, LogLevel.Error, "Recovery of '{PersistenceId}' failed; the actor stops")]
        public static partial void RecoveryFailed(ILogger logger, Exception exception, string persistenceId);

        [LoggerMessage(203, LogLevel.Warning, "Snapshot of '{PersistenceId}' could not be loaded; recovering from events only (SnapshotIsOptional)")]
        public static partial void SnapshotSkipped(ILogger logger, Exception exception, string persistenceId);

        [LoggerMessage(204, LogLevel.Warning, "{Problem}")]
        public static partial void ReplayFilterWarning(ILogger logger, string problem);
    }
}
