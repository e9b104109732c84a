namespace Recall.Actors;

/// <summary>Stops the actor that receives it, after the messages already in its mailbox.</summary>
public sealed class PoisonPill
{
    private PoisonPill()
    {
    }

    /// <summary>The one instance.</summary>
    public static PoisonPill Instance { get; } = new();
}

/// <summary>
/// Stops the actor that receives it once the work it started is done: a plain actor stops as on a
/// <see cref="PoisonPill"/>; a persistent actor first finishes the writes it started (their
/// handlers run and their senders get their answers), since it arrives after them like any message.
/// Sharding stops entities with it on handoff and passivation.
/// </summary>
public sealed class GracefulStop
{
    private GracefulStop()
    {
    }

    /// <summary>The one instance.</summary>
    public static GracefulStop Instance { get; } = new();
}

/// <summary>
/// Delivered to an actor that watches <paramref name="Actor"/> once that actor has stopped.
/// It arrives after every message the stopped actor sent to the watcher.
/// </summary>
/// <param name="Actor">The actor that stopped.</param>
public sealed record Terminated(IActorRef Actor);

/// <summary>
/// Sent to an actor that set a receive timeout and received no message for that long.
/// </summary>
public sealed class ReceiveTimeout : INotInfluenceReceiveTimeout
{
    private ReceiveTimeout()
    {
    }

    /// <summary>The one instance.</summary>
    public static ReceiveTimeout Instance { get; } = new();
}

/// <summary>Marks a message whose arrival does not reset the receiver's receive timeout.</summary>
public interface INotInfluenceReceiveTimeout;

/// <summary>A message that could not be delivered because its recipient does not exist (any more).</summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">Its sender, if any.</param>
/// <param name="Recipient">Where it was sent.</param>
public sealed record DeadLetter(object Message, IActorRef? Sender, IActorRef Recipient);

/// <summary>Generic replies, mostly for asks: success with a value, or failure with a cause.</summary>
public static class Status
{
    /// <summary>A successful outcome.</summary>
    /// <param name="Value">The result, if any.</param>
    public sealed record Success(object? Value);

    /// <summary>A failed outcome. An ask that receives it throws <paramref name="Cause"/>.</summary>
    /// <param name="Cause">What went wrong.</param>
    public sealed record Failure(Exception Cause);
}
