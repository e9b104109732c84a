using Recall.Actors;
using Recall.Persistence.Internal;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>
/// An actor whose state is the sum of its stored events. Commands arrive in
/// <see cref="ReceiveCommand"/>, which validates them and persists events; an event's handler
/// runs only after the store made it durable, and updates the state. On start, the newest
/// snapshot and the events after it are replayed through <see cref="ReceiveRecover"/>.
/// </summary>
/// <remarks>
/// Guarantees: handlers run in the order Persist* and Defer* were called; with
/// <see cref="Persist{TEvent}"/>, <see cref="PersistAll{TEvent}"/> and <see cref="Defer{TEvent}"/>,
/// new commands wait until the handlers ran; inside a handler <c>Sender</c> is the sender of the
/// command that persisted. A failed write stops the actor (run it under a
/// <see cref="BackoffSupervisor"/> to heal); a rejected write only skips the handler.
/// </remarks>
public abstract class PersistentActor : Actor, IEventSourcedBehavior
{
    private readonly EventSourcedRuntime _runtime;

    /// <summary>Creates the actor; its recovery starts after <see cref="Actor.PreStart"/>.</summary>
    protected PersistentActor() => _runtime = new EventSourcedRuntime(this, this);

    /// <summary>The stable id of this actor's history in the journal, e.g. <c>wallet-alice</c>.</summary>
    public abstract string PersistenceId { get; }

    /// <summary>How to recover. Default: the newest snapshot, then every event after it.</summary>
    protected virtual Recovery Recovery => Recovery.Default;

    /// <summary>The sequence number of the last event stored and applied (during replay: the event being replayed).</summary>
    protected long LastSequenceNumber => _runtime.LastSequenceNumber;

    /// <summary>The sequence number of the snapshot recovery started from, or 0.</summary>
    protected long SnapshotSequenceNumber => _runtime.SnapshotSequenceNumber;

    /// <summary>Whether the actor is still recovering.</summary>
    protected bool IsRecovering => _runtime.IsRecovering;

    string IEventSourcedBehavior.PersistenceId => PersistenceId;

    Recovery IEventSourcedBehavior.Recovery => Recovery;

    EventSourcedRuntime IEventSourcedBehavior.Runtime => _runtime;

    /// <summary>Handles a command: validate, then persist events (or reply, or reject).</summary>
    protected abstract void ReceiveCommand(object command);

    /// <summary>
    /// Applies what recovery replays: a <see cref="SnapshotOffer"/> first if there is a snapshot,
    /// then each event in order, then <see cref="RecoveryCompleted"/>. Must not persist.
    /// </summary>
    protected abstract void ReceiveRecover(object message);

    /// <summary>
    /// Stores <paramref name="event"/> and runs <paramref name="handler"/> once it is durable.
    /// New commands wait until the handler has run.
    /// </summary>
    protected void Persist<TEvent>(TEvent @event, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.Persist(@event, handler, stashing: true);

    /// <summary>
    /// Stores <paramref name="events"/> in one atomic write (all or none) and runs
    /// <paramref name="handler"/> for each, in order. New commands wait until the handlers ran.
    /// </summary>
    protected void PersistAll<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.PersistAll(events, handler, stashing: true);

    /// <summary>Like <see cref="Persist{TEvent}"/>, but commands keep flowing while the write is in flight.</summary>
    protected void PersistAsync<TEvent>(TEvent @event, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.Persist(@event, handler, stashing: false);

    /// <summary>Like <see cref="PersistAll{TEvent}"/>, but commands keep flowing while the write is in flight.</summary>
    protected void PersistAllAsync<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.PersistAll(events, handler, stashing: false);

    /// <summary>
    /// Runs <paramref name="handler"/> with <paramref name="event"/> (not stored) after the handlers of
    /// every earlier Persist* call; at once if none is pending. Commands keep flowing.
    /// </summary>
    protected void DeferAsync<TEvent>(TEvent @event, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.Defer(@event, handler, stashing: false);

    /// <summary>Like <see cref="DeferAsync{TEvent}"/>, but new commands wait until the handler has run.</summary>
    protected void Defer<TEvent>(TEvent @event, Action<TEvent> handler)
        where TEvent : notnull => _runtime.Running.Defer(@event, handler, stashing: true);

    /// <summary>
    /// Deletes the stored events up to <paramref name="toSequenceNumber"/>; the actor receives
    /// <see cref="DeleteMessagesSuccess"/> or <see cref="DeleteMessagesFailure"/>. The highest
    /// sequence number is kept, so later events continue after it.
    /// </summary>
    protected void DeleteMessages(long toSequenceNumber) => _runtime.StoreOperations.DeleteMessages(toSequenceNumber);

    /// <summary>
    /// Saves <paramref name="snapshot"/> as the state after <see cref="LastSequenceNumber"/>; the actor
    /// receives <see cref="SaveSnapshotSuccess"/> or <see cref="SaveSnapshotFailure"/>.
    /// </summary>
    protected void SaveSnapshot(object snapshot) => _runtime.StoreOperations.SaveSnapshot(snapshot);

    /// <summary>Deletes the snapshot at <paramref name="sequenceNumber"/>; replies <see cref="DeleteSnapshotSuccess"/> or <see cref="DeleteSnapshotFailure"/>.</summary>
    protected void DeleteSnapshot(long sequenceNumber) => _runtime.StoreOperations.DeleteSnapshot(sequenceNumber);

    /// <summary>Deletes the snapshots matching <paramref name="criteria"/>; replies <see cref="DeleteSnapshotsSuccess"/> or <see cref="DeleteSnapshotsFailure"/>.</summary>
    protected void DeleteSnapshots(SnapshotSelectionCriteria criteria) => _runtime.StoreOperations.DeleteSnapshots(criteria);

    /// <summary>Called when a write failed; the actor stops afterwards. The runtime has logged it.</summary>
    protected virtual void OnPersistFailure(Exception cause, object @event, long sequenceNumber)
    {
    }

    /// <summary>Called when the store rejected an event; the handler does not run and the actor goes on. The runtime has logged it.</summary>
    protected virtual void OnPersistRejected(Exception cause, object @event, long sequenceNumber)
    {
    }

    /// <summary>
    /// Called when recovery failed (the cause, a <see cref="RecoveryFailedException"/>, names the
    /// persistence id, sequence number and manifest); the actor stops afterwards. The runtime has logged it.
    /// </summary>
    protected virtual void OnRecoveryFailure(Exception cause, object? @event)
    {
    }

    /// <inheritdoc />
    protected sealed override void Receive(object message) => _runtime.Receive(message);

    /// <summary>A persistent actor finishes the writes it started before a <see cref="GracefulStop"/> stops it.</summary>
    internal override bool FinishesWorkBeforeStop => true;

    // The kernel makes a new instance per incarnation, so the runtime made with it is this incarnation's.
    internal override void AroundPreStart()
    {
        base.AroundPreStart();
        _runtime.Start();
    }

    internal override void AroundPostRestart(Exception reason)
    {
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

    void IEventSourcedBehavior.ApplySnapshot(SnapshotOffer offer) => ReceiveRecover(offer);

    void IEventSourcedBehavior.ApplyEvent(object @event) => ReceiveRecover(@event);

    void IEventSourcedBehavior.OnRecoveryCompleted()
    {
        ReceiveRecover(RecoveryCompleted.Instance);
        AfterRecovery();
    }

    /// <summary>Runs after <c>ReceiveRecover(RecoveryCompleted)</c>; for base classes built on this one.</summary>
    internal virtual void AfterRecovery()
    {
    }

    void IEventSourcedBehavior.HandleCommand(object command)
    {
        if (!HandleInternal(command))
        {
            ReceiveCommand(command);
        }
    }

    /// <summary>Lets a base class built on this one take its own messages before <c>ReceiveCommand</c>.</summary>
    internal virtual bool HandleInternal(object message) => false;

    void IEventSourcedBehavior.OnRecoveryFailure(Exception cause, object? @event) => OnRecoveryFailure(cause, @event);

    void IEventSourcedBehavior.OnPersistFailure(Exception cause, object @event, long sequenceNumber) => OnPersistFailure(cause, @event, sequenceNumber);

    void IEventSourcedBehavior.OnPersistRejected(Exception cause, object @event, long sequenceNumber) => OnPersistRejected(cause, @event, sequenceNumber);
}
