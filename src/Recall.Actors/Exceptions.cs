namespace Recall.Actors;

/// <summary>An ask got no reply within its timeout.</summary>
public sealed class AskTimeoutException : TimeoutException
{
    /// <summary>Creates the exception for an ask of <paramref name="messageType"/> to <paramref name="target"/>.</summary>
    public AskTimeoutException(ActorPath target, Type messageType, TimeSpan timeout)
        : base($"Ask timed out after {timeout.TotalMilliseconds:0} ms: {target} did not reply to {messageType.Name}.")
    {
        Target = target;
        MessageType = messageType;
        Timeout = timeout;
    }

    /// <summary>The actor that did not reply.</summary>
    public ActorPath Target { get; }

    /// <summary>The type of the message that was asked.</summary>
    public Type MessageType { get; }

    /// <summary>How long the ask waited.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>
/// An ask cannot be answered any more, and fails at once instead of waiting for its timeout: its
/// message was not delivered (the recipient has stopped, never existed, or its node is gone), the
/// recipient failed while handling it, or it stopped before it answered (e.g. a persistent actor
/// whose write failed). <see cref="Reason"/> says which; <see cref="Exception.InnerException"/> is
/// the failure, when there was one.
/// </summary>
public sealed class AskFailedException : Exception
{
    /// <summary>Creates the exception for <paramref name="messageType"/> asked of <paramref name="recipient"/>.</summary>
    public AskFailedException(ActorPath recipient, Type messageType, string reason, Exception? innerException = null)
        : base($"Ask of {messageType?.Name} to {recipient} failed at once: {reason}.", innerException)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        ArgumentNullException.ThrowIfNull(messageType);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        Recipient = recipient;
        MessageType = messageType;
        Reason = reason;
    }

    /// <summary>The actor that was asked.</summary>
    public ActorPath Recipient { get; }

    /// <summary>The type of the message that was asked.</summary>
    public Type MessageType { get; }

    /// <summary>
    /// Why no answer will come, e.g. "the message was not delivered: the actor has stopped" or
    /// "the actor failed handling it with InvalidOperationException: ...".
    /// </summary>
    public string Reason { get; }
}

/// <summary>An actor name is empty, malformed, or already taken by a sibling.</summary>
public sealed class InvalidActorNameException(string message) : ArgumentException(message);

/// <summary>An actor's constructor or <c>PreStart</c> threw; by default the actor is stopped.</summary>
public sealed class ActorInitializationException(ActorPath actor, Exception cause)
    : Exception($"Actor {actor} failed to start: {cause.Message}", cause)
{
    /// <summary>The actor that failed to start.</summary>
    public ActorPath Actor { get; } = actor;
}

/// <summary>An actor received <see cref="Terminated"/> for a watched actor and did not handle it.</summary>
public sealed class DeathPactException(IActorRef deadActor)
    : Exception($"Watched actor {deadActor.Path} terminated and the watcher did not handle Terminated.")
{
    /// <summary>The actor that stopped.</summary>
    public IActorRef DeadActor { get; } = deadActor;
}

/// <summary>More messages were stashed than the actor's stash capacity allows.</summary>
public sealed class StashOverflowException(ActorPath actor, int capacity)
    : Exception($"Stash of {actor} is full: its capacity is {capacity} messages.")
{
    /// <summary>The actor whose stash overflowed.</summary>
    public ActorPath Actor { get; } = actor;

    /// <summary>The capacity that was exceeded.</summary>
    public int Capacity { get; } = capacity;
}

/// <summary>No actor lives at a path that was looked up, or its node could not be asked.</summary>
public sealed class ActorNotFoundException : Exception
{
    /// <summary>Creates the exception for <paramref name="path"/> with the reason in <paramref name="reason"/>.</summary>
    public ActorNotFoundException(ActorPath path, string reason, Exception? innerException = null)
        : base($"No actor found at {path}: {reason}.", innerException)
    {
        Path = path;
    }

    /// <summary>The path that was looked up.</summary>
    public ActorPath Path { get; }
}
