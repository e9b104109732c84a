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
/// An ask's message could not be delivered (it became a dead letter): the recipient has stopped,
/// never existed, or its node is gone. The ask fails at once with this instead of waiting for its
/// timeout.
/// </summary>
public sealed class AskUndeliveredException : Exception
{
    /// <summary>Creates the exception for <paramref name="messageType"/> sent to <paramref name="recipient"/>.</summary>
    public AskUndeliveredException(ActorPath recipient, Type messageType, string reason)
        : base($"Ask of {messageType.Name} to {recipient} failed at once: the message was not delivered because {reason}.")
    {
        Recipient = recipient;
        MessageType = messageType;
        Reason = reason;
    }

    /// <summary>Where the message went.</summary>
    public ActorPath Recipient { get; }

    /// <summary>The type of the message that was asked.</summary>
    public Type MessageType { get; }

    /// <summary>Why it was not delivered, e.g. "the actor has stopped" or the failure that stopped it.</summary>
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
