namespace Recall.Actors.Internal;

/// <summary>
/// Brings the continuations of an actor's async handler back onto the actor, as system messages,
/// so that actor state is never touched by two threads at once.
/// </summary>
internal sealed class ActorSynchronizationContext(ActorCell cell, Envelope envelope) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state) => cell.PostContinuation(d, state, envelope);

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("Synchronous Send onto an actor would block it; await instead.");

    public override SynchronizationContext CreateCopy() => new ActorSynchronizationContext(cell, envelope);
}
