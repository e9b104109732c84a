using System.Runtime.CompilerServices;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// The runtime of one event-sourced actor incarnation: a state machine whose phase only it moves,
/// forward only (<see cref="RuntimePhase"/>): <see cref="RecoveryPhase"/> first, then a
/// <see cref="RunningPhase"/> made from what recovery hands over (<see cref="Recovered"/>).
/// Both APIs make it with the actor instance, which the kernel makes anew for each incarnation,
/// and forward their lifecycle to it: <see cref="Start"/> after PreStart (or PostRestart),
/// <see cref="OnRestarting"/>, <see cref="OnStopped"/>. So a restart has a new runtime, with a
/// new writer id.
/// </summary>
internal sealed partial class EventSourcedRuntime
{
    private static int s_incarnations;
    private string? _writerId;
    private StoreOperations? _storeOperations;
    private RuntimePhase _phase;
    private RecoveryPhase? _recovery; // until running; exactly one of the two is set
    private RunningPhase? _running;

    public EventSourcedRuntime(Actor actor, IEventSourcedBehavior behavior)
    {
        Behavior = behavior;
        Cell = actor.Cell;
        Persistence = Cell.System.Persistence();
        Incarnation = Interlocked.Increment(ref s_incarnations);
        _recovery = new RecoveryPhase(this);
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

    /// <summary>The token every write of this incarnation carries (set by whoever made it the owner), or null.</summary>
    public long? FencingToken { get; private set; }

    /// <summary>Not running yet: in PreStart too, before recovery starts.</summary>
    public bool IsRecovering => _phase <= RuntimePhase.Recovering;

    public bool IsStopping => _phase >= RuntimePhase.Stopping;

    /// <summary>The actor stopped or restarted: this runtime no longer owns the cell.</summary>
    public bool IsAbandoned => _phase == RuntimePhase.Abandoned;

    /// <summary>The running phase: commands, and the writes they persist.</summary>
    public RunningPhase Running => _running ?? NotRunning();

    /// <summary>The sequence number of the last event stored and applied (during replay: the event being replayed).</summary>
    public long LastSequenceNumber => _running is { } running ? running.LastSequenceNumber : _recovery!.LastSequenceNumber;

    /// <summary>The sequence number of the snapshot recovery started from, or 0.</summary>
    public long SnapshotSequenceNumber => _running is { } running ? running.SnapshotSequenceNumber : _recovery!.SnapshotSequenceNumber;

    /// <summary>Write requests sent and not yet answered and handled; safe to read from any thread.</summary>
    public int PendingWrites => _running?.PendingWrites ?? 0;

    /// <summary>Deleting events and saving or deleting snapshots, one call after another.</summary>
    public StoreOperations StoreOperations => _storeOperations ??= new StoreOperations(this);

    public ILogger Logger => Cell.System.LoggerFactory.CreateLogger("Recall.Persistence");

    /// <summary>Starts recovery (after the actor's PreStart or PostRestart); commands wait in the mailbox until it completes.</summary>
    public void Start()
    {
        if (_phase != RuntimePhase.Created)
        {
            throw new InvalidOperationException($"The persistent actor at {Cell.Self.Path} was started twice: its Props must create a new instance each time.");
        }

        var id = Behavior.PersistenceId;
        if (string.IsNullOrEmpty(id))
        {
            throw new InvalidOperationException($"The persistent actor at {Cell.Self.Path} has an empty PersistenceId.");
        }

        PersistenceId = id;
        FencingToken = Persistence.FencingTokenOf(Cell.Self.Path);
        _phase = RuntimePhase.Recovering;
        Cell.RunTask(_recovery!.RunAsync);
    }

    /// <summary>Recovery has completed: the running phase takes over from what it hands over.</summary>
    public RunningPhase BeginRunning(Recovered recovered)
    {
        Debug.Assert(_phase == RuntimePhase.Recovering, "Only recovery hands over, once.");
        var running = new RunningPhase(this, recovered);
        _running = running;
        _recovery = null;
        _phase = RuntimePhase.Running;
        return running;
    }

    public void Receive(object message) => Running.Receive(message);

    /// <summary>Stops the actor: after a failure it cannot recover from (persist or recovery failure), or on a <see cref="GracefulStop"/> once its writes are handled.</summary>
    /// <param name="reason">Why it stops when it is a failure (told to asks whose message it cannot take), null for a requested stop.</param>
    public void Stop(string? reason = null)
    {
        if (_phase < RuntimePhase.Stopping)
        {
            _phase = RuntimePhase.Stopping;
        }

        Cell.StopReason ??= reason;
        Cell.Stop(Cell.Self);
    }

    /// <summary>The actor stopped: give back a recovery permit and what waits in the internal stash.</summary>
    public void OnStopped()
    {
        Abandon();
        if (_running is { } running)
        {
            running.AbandonWrites();
            running.DropStash();
        }
    }

    /// <summary>The actor restarts: put the internally stashed commands back in front of the mailbox.</summary>
    public void OnRestarting()
    {
        Abandon();
        if (_running is { } running)
        {
            running.AbandonWrites();
            running.ReturnStashToMailbox();
        }
    }

    // Apart, so that Running stays small enough to inline on the path of every command and persist.
    private RunningPhase NotRunning() => throw new InvalidOperationException(
        $"'{PersistenceId}' is {_phase.ToString().ToLowerInvariant()}, not running: events are only persisted by commands, once recovery has completed.");

    private void Abandon()
    {
        var recovering = _phase == RuntimePhase.Recovering;
        _phase = RuntimePhase.Abandoned;
        if (_recovery is { } recovery)
        {
            recovery.Abandon(cancel: recovering);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

/// <summary>Where an <see cref="EventSourcedRuntime"/> is. Only the runtime moves it, and only forward.</summary>
internal enum RuntimePhase
{
    /// <summary>Made with the actor instance; recovery starts after PreStart.</summary>
    Created,

    /// <summary>The <see cref="RecoveryPhase"/> runs; commands wait in the mailbox.</summary>
    Recovering,

    /// <summary>The <see cref="RunningPhase"/> handles commands and the writes they persist.</summary>
    Running,

    /// <summary>The runtime asked its actor to stop (a failure, or a graceful stop once written): nothing more is sent or handled.</summary>
    Stopping,

    /// <summary>The actor stopped or restarts: this incarnation no longer owns the cell.</summary>
    Abandoned,
}
