namespace Recall.Actors;

/// <summary>
/// A handle to an actor: the only way to talk to it. Refs are cheap to copy and safe to share
/// between threads; sending never blocks and never throws because the receiver is gone
/// (such messages become dead letters).
/// </summary>
public interface IActorRef
{
    /// <summary>The actor's unique path.</summary>
    ActorPath Path { get; }

    /// <summary>
    /// Sends a message. Messages from one sender to one receiver arrive in the order sent.
    /// </summary>
    /// <param name="message">The message; must not be null.</param>
    /// <param name="sender">The ref the receiver sees as <c>Sender</c>, or null for none.</param>
    /// <exception cref="ArgumentNullException">The message is null.</exception>
    void Tell(object message, IActorRef? sender);
}
