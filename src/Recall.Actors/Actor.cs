using Recall.Actors.Internal;

namespace Recall.Actors;

/// <summary>
/// The base class of every actor. An actor handles one message at a time in <see cref="Receive"/>,
/// so its fields need no locks. Create actors with <see cref="Props"/> and
/// <see cref="ActorSystem.Spawn"/> or <see cref="IActorContext.Spawn"/>, never with <c>new</c> alone.
/// </summary>
public abstract class Actor
{
    private readonly ActorCell _cell;

    /// <summary>Binds the new instance to the actor it is being created for.</summary>
    /// <exception cref="InvalidOperationException">The actor was created outside of Spawn.</exception>
    protected Actor()
    {
        _cell = ActorCell.Constructing ?? throw new InvalidOperationException(
            $"{GetType().Name} was created with 'new' outside of Spawn. Create actors through Props.Create(() => new {GetType().Name}(...)) and Spawn.");
    }

    /// <summary>This actor's context: its children, watches, behaviour, timers and system.</summary>
    protected IActorContext Context => _cell;

    /// <summary>This actor's own ref.</summary>
    protected IActorRef Self => _cell.Self;

    /// <summary>The sender of the message being handled, or the dead-letter ref when there is none.</summary>
    protected IActorRef Sender => _cell.Sender;

    /// <summary>Timers that send messages to this actor; all are cancelled when it stops or restarts.</summary>
    protected ITimerScheduler Timers => _cell.Timers;

    /// <summary>This actor's stash: set a message aside and take it back later, in order.</summary>
    protected IStash Stash => _cell.Stash;

    /// <summary>How this actor supervises its children. Default: <see cref="SupervisorStrategy.Default"/>.</summary>
    protected virtual SupervisorStrategy SupervisorStrategy => SupervisorStrategy.Default;

    /// <summary>Handles one message. Use pattern matching and call <see cref="Unhandled"/> for the rest.</summary>
    protected abstract void Receive(object message);

    /// <summary>
    /// Called for messages this actor does not handle. An unhandled <see cref="Terminated"/> fails
    /// the actor with <see cref="DeathPactException"/>; anything else is logged at debug level.
    /// </summary>
    protected virtual void Unhandled(object message) => _cell.Unhandled(message);

    /// <summary>Called once after the instance is created, before the first message.</summary>
    protected virtual void PreStart()
    {
    }

    /// <summary>Called once after the actor stopped; its children have stopped before.</summary>
    protected virtual void PostStop()
    {
    }

    /// <summary>
    /// Called on the failed instance before it is replaced. By default stops all children and
    /// calls <see cref="PostStop"/>.
    /// </summary>
    /// <param name="reason">The exception that caused the restart.</param>
    /// <param name="message">The message being handled when it failed, if any.</param>
    protected virtual void PreRestart(Exception reason, object? message)
    {
        foreach (var child in Context.Children)
        {
            Context.Stop(child);
        }

        PostStop();
    }

    /// <summary>Called on the new instance after a restart. By default calls <see cref="PreStart"/>.</summary>
    /// <param name="reason">The exception that caused the restart.</param>
    protected virtual void PostRestart(Exception reason) => PreStart();

    /// <summary>
    /// Runs an asynchronous piece of work as part of handling the current message: no other user
    /// message is handled until the task completes, and code after each <c>await</c> runs on the
    /// actor again (with the same <see cref="Sender"/>). An exception fails the actor like a throw
    /// from <see cref="Receive"/>. Do not use <c>ConfigureAwait(false)</c> inside.
    /// </summary>
    protected void RunTask(Func<Task> work) => _cell.RunTask(work);

    internal SupervisorStrategy ChildSupervisorStrategy => SupervisorStrategy;

    internal void InvokeReceive(object message) => Receive(message);

    internal ActorCell Cell => _cell;

    /// <summary>Whether <see cref="GracefulStop"/> reaches the actor (which stops itself once its work is done) instead of stopping it at once.</summary>
    internal virtual bool FinishesWorkBeforeStop => false;

    // The lifecycle as the kernel calls it; libraries built on the kernel (persistence) wrap the
    // user's hooks here without asking users to call base methods.
    internal virtual void AroundPreStart() => PreStart();

    internal virtual void AroundPostStop() => PostStop();

    internal virtual void AroundPreRestart(Exception reason, object? message) => PreRestart(reason, message);

    internal virtual void AroundPostRestart(Exception reason) => PostRestart(reason);
}
