namespace Recall.Actors.Internal;

/// <summary>A message and who sent it, as stored in a mailbox.</summary>
internal readonly record struct Envelope(object Message, IActorRef? Sender);

/// <summary>
/// Lifecycle traffic between actors; handled before user messages. Each instance sits in at
/// most one mailbox: <see cref="Next"/> links it into that mailbox's lock-free stack.
/// </summary>
internal abstract class SystemMessage
{
    public SystemMessage? Next;
}

/// <summary>
/// To an ask's reply ref in another process: the asked actor will not answer (it failed handling
/// the message, or the message could not be delivered), so the ask there fails at once.
/// </summary>
internal sealed class AskFailed(string reason) : SystemMessage
{
    public string Reason { get; } = reason;
}

/// <summary>Create the actor instance and run PreStart.</summary>
internal sealed class Create : SystemMessage;

/// <summary>Stop the actor: children first, then PostStop.</summary>
internal sealed class Terminate : SystemMessage;

/// <summary>Resume after a failure, keeping the instance.</summary>
internal sealed class Resume : SystemMessage;

/// <summary>Replace the failed instance with a new one.</summary>
internal sealed class Recreate(Exception cause) : SystemMessage
{
    public Exception Cause { get; } = cause;
}

/// <summary>To a parent: a child failed and waits for a decision.</summary>
internal sealed class Failed(ActorCell child, Exception cause, object? message) : SystemMessage
{
    public ActorCell Child { get; } = child;

    public Exception Cause { get; } = cause;

    public object? Message { get; } = message;
}

/// <summary>To a parent: a child has stopped.</summary>
internal sealed class ChildTerminated(ActorCell child) : SystemMessage
{
    public ActorCell Child { get; } = child;
}

/// <summary>To a watched actor: notify <see cref="Watcher"/> when you stop.</summary>
internal sealed class Watch(IInternalActorRef watcher) : SystemMessage
{
    public IInternalActorRef Watcher { get; } = watcher;
}

/// <summary>To a watched actor: <see cref="Watcher"/> is no longer interested.</summary>
internal sealed class Unwatch(IInternalActorRef watcher) : SystemMessage
{
    public IInternalActorRef Watcher { get; } = watcher;
}

/// <summary>To a watcher: <see cref="Actor"/> has stopped.</summary>
internal sealed class DeathWatchNotification(IActorRef actor) : SystemMessage
{
    public IActorRef Actor { get; } = actor;
}

/// <summary>Run the continuation of an actor's async handler on the actor.</summary>
internal sealed class RunContinuation(SendOrPostCallback callback, object? state, Envelope envelope) : SystemMessage
{
    public SendOrPostCallback Callback { get; } = callback;

    public object? State { get; } = state;

    public Envelope Envelope { get; } = envelope;
}

/// <summary>An actor's async handler finished; user messages may flow again.</summary>
internal sealed class TaskCompleted(Task task, Envelope envelope) : SystemMessage
{
    public Task Task { get; } = task;

    public Envelope Envelope { get; } = envelope;
}

/// <summary>A timer's message, checked against the timer's generation before delivery.</summary>
internal sealed class TimerMessage(object key, int generation, object message) : INotInfluenceReceiveTimeout
{
    public object Key { get; } = key;

    public int Generation { get; } = generation;

    public object Message { get; } = message;
}

/// <summary>A receive-timeout tick, valid only if no message arrived since it was sent.</summary>
internal sealed class ReceiveTimeoutTick(int generation) : INotInfluenceReceiveTimeout
{
    public int Generation { get; } = generation;
}
