namespace Recall.Persistence.Internal;

/// <summary>
/// What the runtime needs from an event-sourced actor, whichever API it is written in: its
/// identity and recovery settings, how it applies snapshots and events, how it handles commands,
/// and its failure hooks.
/// </summary>
internal interface IEventSourcedBehavior
{
    string PersistenceId { get; }

    Recovery Recovery { get; }

    /// <summary>The runtime of this incarnation (read by a graceful shutdown from any thread).</summary>
    EventSourcedRuntime Runtime { get; }

    void ApplySnapshot(SnapshotOffer offer);

    void ApplyEvent(object @event);

    void OnRecoveryCompleted();

    void HandleCommand(object command);

    void OnRecoveryFailure(Exception cause, object? @event);

    void OnPersistFailure(Exception cause, object @event, long sequenceNumber);

    void OnPersistRejected(Exception cause, object @event, long sequenceNumber);
}
