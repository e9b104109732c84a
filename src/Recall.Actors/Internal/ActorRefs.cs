using System.Runtime.CompilerServices;
namespace Recall.Actors.Internal;

/// <summary>A ref the kernel can also send lifecycle messages to.</summary>
internal interface IInternalActorRef : IActorRef
{
    ActorSystem System { get; }

    void SendSystemMessage(SystemMessage message);
}

/// <summary>The ref of an actor in this process.</summary>
internal sealed class LocalActorRef(ActorCell cell, ActorPath path) : IInternalActorRef
{
    public ActorPath Path { get; } = path;

    public ActorCell Cell { get; } = cell;

    public ActorSystem System => Cell.System;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        Cell.Post(new Envelope(ActorTracing.Capture(message), sender));
    }

    public void SendSystemMessage(SystemMessage message) => Cell.SendSystem(message);

    public override string ToString() => Path.ToString();
}

/// <summary>Where undeliverable messages go: counted and logged by the system.</summary>
internal sealed class DeadLetterActorRef(ActorSystem system) : IInternalActorRef
{
    public ActorPath Path { get; } = ActorPath.Root(system.Address).Child("deadLetters");

    public ActorSystem System { get; } = system;

    public void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        System.PublishDeadLetter(message is DeadLetter letter ? letter : new DeadLetter(message, sender, this));
    }

    public void SendSystemMessage(SystemMessage message)
    {
        // Watching the dead-letter ref means watching something that never lived.
        if (message is Watch watch)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(this));
        }
    }

    public override string ToString() => Path.ToString();
}

/// <summary>The temporary ref an ask waits on; the first reply completes it.</summary>
internal sealed class PromiseActorRef(ActorSystem system, ActorPath path) : IInternalActorRef
{
    private readonly TaskCompletionSource<object> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ActorPath Path { get; } = path;

    public ActorSystem System { get; } = system;

    public Task<object> Reply => _reply.Task;

    /// <summary>The ask stopped waiting (timeout or cancellation): a late reply becomes a dead letter.</summary>
    public void Abandon() => _reply.TrySetCanceled();

    /// <summary>The asked message could not be delivered: the ask fails at once.</summary>
    public void Fail(Exception cause) => _reply.TrySetException(cause);

    /// <summary>The ask's target and message type, set before the message is sent.</summary>
    public (ActorPath Target, Type MessageType)? Asked { get; set; }

    public void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!_reply.TrySetResult(message))
        {
            System.PublishDeadLetter(new DeadLetter(message, sender, this));
        }
    }

    public void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch watch && _reply.Task.IsCompleted)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(this));
        }
        else if (message is AskFailed failed && Asked is var (target, type))
        {
            // From the asked actor's process: it will not answer.
            Fail(new AskFailedException(target, type, failed.Reason));
        }
    }

    public override string ToString() => Path.ToString();
}

/// <summary>A path where no actor lives: messages become dead letters, and a watcher learns at once that it is gone.</summary>
internal sealed class MissingActorRef(ActorSystem system, ActorPath path) : IInternalActorRef
{
    public ActorPath Path { get; } = path;

    public ActorSystem System { get; } = system;

    public void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        System.PublishDeadLetter(new DeadLetter(message, sender, this));
    }

    public void SendSystemMessage(SystemMessage message)
    {
        if (message is Watch watch)
        {
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(this));
        }
    }

    public override bool Equals(object? obj) => obj is MissingActorRef other && other.Path.Equals(Path);

    public override int GetHashCode() => Path.GetHashCode();

    public override string ToString() => Path.ToString();
}
