using Recall.Actors;
using Recall.Persistence.Internal;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>When a typed actor saves snapshots of its state, and how many it keeps.</summary>
/// <param name="EveryNEvents">Save a snapshot after every this many events.</param>
/// <param name="KeepSnapshots">Keep this many snapshots; older ones are deleted after a save. 0 keeps all.</param>
public sealed record SnapshotRetention(int EveryNEvents, int KeepSnapshots = 2)
{
    /// <summary>Save every <paramref name="events"/> events, keep the newest <paramref name="keep"/>.</summary>
    public static SnapshotRetention Every(int events, int keep = 2)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(events);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        return new SnapshotRetention(events, keep);
    }
}

/// <summary>
/// A typed event-sourced actor: two pure functions, <see cref="OnCommand"/> (state, command →
/// <see cref="Effect{TEvent, TState}"/>) and <see cref="OnEvent"/> (state, event → state), and the
/// runtime does the rest: persisting, applying, replying, stashing, recovering. It runs on the same
/// runtime as <see cref="PersistentActor"/>, with the same guarantees: state changes only by
/// events that are stored, and commands wait while an effect's events are being stored.
/// </summary>
/// <typeparam name="TCommand">The commands (usually a sealed interface of records).</typeparam>
/// <typeparam name="TEvent">The events (usually a sealed interface of records).</typeparam>
/// <typeparam name="TState">The state (an immutable record).</typeparam>
public abstract partial class EventSourcedActor<TCommand, TEvent, TState> : Actor, IEventSourcedBehavior, ISideEffectTarget
    where TCommand : notnull
    where TEvent : notnull
    where TState : notnull
{
    private readonly PersistenceId _persistenceId;
    private readonly EventSourcedRuntime _runtime;
    private readonly EffectInterpreter _effects;
    private TState _state;
    private SnapshotRetention? _snapshots;

    /// <summary>Creates the actor of <paramref name="persistenceId"/>, starting from <paramref name="emptyState"/>.</summary>
    protected EventSourcedActor(PersistenceId persistenceId, TState emptyState)
    {
        ArgumentNullException.ThrowIfNull(emptyState);
        _persistenceId = persistenceId;
        _state = emptyState;
        _runtime = new EventSourcedRuntime(this, this);
        _effects = new EffectInterpreter(this);
    }

    /// <summary>The current state.</summary>
    protected TState State => _state;

    /// <summary>This actor's persistence id.</summary>
    protected PersistenceId PersistenceId => _persistenceId;

    /// <summary>The sequence number of the last event stored and applied.</summary>
    protected long LastSequenceNumber => _runtime.LastSequenceNumber;

    /// <summary>Makes effects: <c>Effect.Persist(e).ThenReply(replyTo, s => ...)</c>.</summary>
    protected static EffectFactory<TEvent, TState> Effect => default;

    /// <summary>How to recover. Default: the newest snapshot, then every event after it.</summary>
    protected virtual Recovery Recovery => Recovery.Default;

    /// <summary>Snapshots every N events with retention, or null (the default) for none besides <see cref="ShouldSnapshot"/>.</summary>
    protected virtual SnapshotRetention? Snapshots => null;

    string IEventSourcedBehavior.PersistenceId => _persistenceId.Value;

    Recovery IEventSourcedBehavior.Recovery => Recovery;

    EventSourcedRuntime IEventSourcedBehavior.Runtime => _runtime;

    /// <summary>
    /// Decides what a command does. Pure: look at state and command, return an effect; never
    /// change state here. Override this, or <see cref="OnCommandAsync"/> when deciding needs I/O.
    /// </summary>
    protected virtual Effect<TEvent, TState> OnCommand(TState state, TCommand command) =>
        throw new NotImplementedException($"{GetType().Name} must override OnCommand or OnCommandAsync.");

    /// <summary>
    /// Decides what a command does, asynchronously (for example after asking another service).
    /// Other commands wait until the effect is returned and applied. By default calls <see cref="OnCommand"/>.
    /// </summary>
    protected virtual ValueTask<Effect<TEvent, TState>> OnCommandAsync(TState state, TCommand command) => new(OnCommand(state, command));

    /// <summary>Applies an event to the state. Pure and synchronous: used for live events and replay alike.</summary>
    protected abstract TState OnEvent(TState state, TEvent @event);

    /// <summary>Whether to save a snapshot after <paramref name="event"/> was applied. Default: never.</summary>
    protected virtual bool ShouldSnapshot(TState state, TEvent @event, long sequenceNumber) => false;

    /// <summary>The tags of an event, for reading events by tag. Default: none.</summary>
    protected virtual IReadOnlyList<string> Tags(TEvent @event) => [];

    /// <summary>Called when recovery has finished, with the recovered state.</summary>
    protected virtual void OnRecoveryCompleted(TState state)
    {
    }

    /// <summary>Called when recovery failed (the runtime has logged it); the actor stops afterwards.</summary>
    protected virtual void OnRecoveryFailure(Exception cause)
    {
    }

    /// <summary>Called when a write failed (the runtime has logged it); the actor stops afterwards.</summary>
    protected virtual void OnPersistFailure(Exception cause, TEvent @event, long sequenceNumber)
    {
    }

    /// <summary>Called when the store rejected an event (the runtime has logged it); the effect's side effects do not run.</summary>
    protected virtual void OnPersistRejected(Exception cause, TEvent @event, long sequenceNumber)
    {
    }

    /// <inheritdoc />
    protected sealed override void Receive(object message) => _runtime.Receive(message);

    /// <summary>A persistent actor finishes the writes it started before a <see cref="GracefulStop"/> stops it.</summary>
    internal override bool FinishesWorkBeforeStop => true;

    // The kernel makes a new instance per incarnation, so the runtime made with it is this incarnation's.
    internal override void AroundPreStart()
    {
        _snapshots = Snapshots;
        base.AroundPreStart();
        _runtime.Start();
    }

    internal override void AroundPostRestart(Exception reason)
    {
        _snapshots = Snapshots;
        base.AroundPostRestart(reason);
        _runtime.Start();
    }

    internal override void AroundPreRestart(Exception reason, object? message)
    {
        _runtime.OnRestarting();
        base.AroundPreRestart(reason, message);
    }

    internal override void AroundPostStop()
    {
        _runtime.OnStopped();
        base.AroundPostStop();
    }

    void IEventSourcedBehavior.ApplySnapshot(SnapshotOffer offer) => _state = offer.Snapshot is TState state
        ? state
        : throw new InvalidOperationException($"The snapshot of '{_persistenceId}' is a {offer.Snapshot.GetType().Name}, not a {typeof(TState).Name}.");

    void IEventSourcedBehavior.ApplyEvent(object @event) => _state = OnEvent(_state, AsEvent(@event));

    void IEventSourcedBehavior.OnRecoveryCompleted() => OnRecoveryCompleted(_state);

    void IEventSourcedBehavior.HandleCommand(object command)
    {
        switch (command)
        {
            case TCommand typed:
                _effects.Decide(typed);
                break;
            case TypedStateRequest:
                Sender.Tell(new TypedStateReply(_state, _runtime.LastSequenceNumber, _persistenceId.Value));
                break;
            case SaveSnapshotSuccess saved when Snapshots is { KeepSnapshots: > 0 } retention:
                var keepFrom = saved.Metadata.SequenceNumber - ((long)retention.EveryNEvents * (retention.KeepSnapshots - 1));
                if (keepFrom > 1)
                {
                    _runtime.StoreOperations.DeleteSnapshots(SnapshotSelectionCriteria.UpTo(keepFrom - 1));
                }

                break;
            case SaveSnapshotSuccess or SaveSnapshotFailure or DeleteSnapshotsSuccess or DeleteSnapshotsFailure:
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    void IEventSourcedBehavior.OnRecoveryFailure(Exception cause, object? @event) => OnRecoveryFailure(cause);

    void IEventSourcedBehavior.OnPersistFailure(Exception cause, object @event, long sequenceNumber) =>
        OnPersistFailure(cause, AsEvent(@event), sequenceNumber);

    void IEventSourcedBehavior.OnPersistRejected(Exception cause, object @event, long sequenceNumber) =>
        OnPersistRejected(cause, AsEvent(@event), sequenceNumber);

    void ISideEffectTarget.StopSelf() => Context.Stop(Self);

    void ISideEffectTarget.UnstashAll() => Stash.UnstashAll();

    private TEvent AsEvent(object @event) => @event is TEvent typed
        ? typed
        : throw new InvalidOperationException($"'{_persistenceId}' received a {@event.GetType().Name}, which is not a {typeof(TEvent).Name}.");
}

/// <summary>
/// A typed event-sourced actor whose command handler must reply: it returns a
/// <see cref="ReplyEffect{TEvent, TState}"/>, made only by <c>Reply</c>, <c>ThenReply</c> or
/// <c>NoReply</c>, so forgetting to reply does not compile.
/// </summary>
public abstract class EventSourcedActorWithEnforcedReplies<TCommand, TEvent, TState> : EventSourcedActor<TCommand, TEvent, TState>
    where TCommand : notnull
    where TEvent : notnull
    where TState : notnull
{
    /// <summary>Creates the actor of <paramref name="persistenceId"/>, starting from <paramref name="emptyState"/>.</summary>
    protected EventSourcedActorWithEnforcedReplies(PersistenceId persistenceId, TState emptyState)
        : base(persistenceId, emptyState)
    {
    }

    /// <summary>Decides what a command does, and what to reply.</summary>
    protected abstract override ReplyEffect<TEvent, TState> OnCommand(TState state, TCommand command);
}

/// <summary>Asks a typed actor for its state and last sequence number (used by the test kit).</summary>
internal sealed record TypedStateRequest;

/// <summary>The answer to <see cref="TypedStateRequest"/>.</summary>
internal sealed record TypedStateReply(object State, long LastSequenceNumber, string PersistenceId);
