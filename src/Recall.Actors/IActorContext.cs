using Microsoft.Extensions.Logging;

namespace Recall.Actors;

/// <summary>What an actor can do about itself and its children, from inside its handlers.</summary>
public interface IActorContext
{
    /// <summary>This actor's ref.</summary>
    IActorRef Self { get; }

    /// <summary>The sender of the message being handled, or the dead-letter ref when there is none.</summary>
    IActorRef Sender { get; }

    /// <summary>This actor's parent (its supervisor).</summary>
    IActorRef Parent { get; }

    /// <summary>The system this actor lives in.</summary>
    ActorSystem System { get; }

    /// <summary>The children that have not stopped yet.</summary>
    IReadOnlyCollection<IActorRef> Children { get; }

    /// <summary>Timers that send messages to this actor.</summary>
    ITimerScheduler Timers { get; }

    /// <summary>A logger named after this actor's type.</summary>
    ILogger Logger { get; }

    /// <summary>The receive timeout, or null when none is set.</summary>
    TimeSpan? ReceiveTimeout { get; }

    /// <summary>Creates a child actor.</summary>
    /// <param name="props">How to create it.</param>
    /// <param name="name">A name unique among this actor's children, or null for a generated one.</param>
    /// <exception cref="InvalidActorNameException">The name is malformed or taken.</exception>
    IActorRef Spawn(Props props, string? name = null);

    /// <summary>The child with the given name, or null.</summary>
    IActorRef? Child(string name);

    /// <summary>Stops an actor (this one or a child) after its current message; its children stop first.</summary>
    void Stop(IActorRef actor);

    /// <summary>Delivers <see cref="Terminated"/> to this actor once <paramref name="subject"/> has stopped.</summary>
    IActorRef Watch(IActorRef subject);

    /// <summary>Stops watching; no <see cref="Terminated"/> for that actor arrives afterwards.</summary>
    IActorRef Unwatch(IActorRef subject);

    /// <summary>Handles the next messages with <paramref name="behavior"/> instead of <c>Receive</c>.</summary>
    /// <param name="behavior">The new message handler.</param>
    /// <param name="discardOld">Replace the current behaviour (true) or push on top of it (false).</param>
    void Become(Action<object> behavior, bool discardOld = true);

    /// <summary>Returns to the previous behaviour.</summary>
    void Unbecome();

    /// <summary>
    /// Sends <see cref="Actors.ReceiveTimeout"/> to this actor after <paramref name="timeout"/>
    /// without messages; null switches it off.
    /// </summary>
    void SetReceiveTimeout(TimeSpan? timeout);
}

/// <summary>Timers owned by one actor, identified by keys. Starting a timer with a key in use replaces it.</summary>
public interface ITimerScheduler
{
    /// <summary>Sends <paramref name="message"/> once after <paramref name="delay"/>.</summary>
    void StartSingleTimer(object key, object message, TimeSpan delay);

    /// <summary>Sends <paramref name="message"/> every <paramref name="interval"/>, first after <paramref name="initialDelay"/>.</summary>
    void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval);

    /// <summary>Whether a timer with the key is active.</summary>
    bool IsTimerActive(object key);

    /// <summary>Cancels a timer; a message it already sent is not delivered.</summary>
    void Cancel(object key);

    /// <summary>Cancels every timer of this actor.</summary>
    void CancelAll();
}

/// <summary>An actor's stash: messages set aside to be handled later, in the order they were stashed.</summary>
public interface IStash
{
    /// <summary>Sets the message being handled aside.</summary>
    /// <exception cref="StashOverflowException">The stash is full.</exception>
    void Stash();

    /// <summary>Puts every stashed message back at the front of the mailbox, in original order.</summary>
    void UnstashAll();

    /// <summary>How many messages are stashed.</summary>
    int Count { get; }

    /// <summary>The most messages the stash holds.</summary>
    int Capacity { get; }
}
