using Recall.Actors.Internal;

namespace Recall.Actors;

/// <summary>Sending helpers: implicit sender, forward and ask.</summary>
public static class ActorRefExtensions
{
    /// <summary>
    /// Sends a message; inside an actor the sender is that actor (<c>Self</c>), elsewhere none.
    /// </summary>
    public static void Tell(this IActorRef target, object message)
    {
        ArgumentNullException.ThrowIfNull(target);
        target.Tell(message, ActorCell.Current?.Self);
    }

    /// <summary>Sends a message keeping the original sender of the message being handled.</summary>
    /// <exception cref="InvalidOperationException">Called outside of an actor's message handler.</exception>
    public static void Forward(this IActorRef target, object message)
    {
        ArgumentNullException.ThrowIfNull(target);
        var cell = ActorCell.Current ?? throw new InvalidOperationException("Forward can only be called from an actor's message handler.");
        target.Tell(message, cell.CurrentSender);
    }

    /// <summary>
    /// Sends a message and waits for one reply of type <typeparamref name="T"/>. A
    /// <see cref="Status.Failure"/> reply throws its cause.
    /// </summary>
    /// <exception cref="AskTimeoutException">No reply within <paramref name="timeout"/>; names the target and message type.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="InvalidCastException">The reply was of another type.</exception>
    public static async Task<T> Ask<T>(this IActorRef target, object message, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        if (target is not IInternalActorRef internalRef)
        {
            throw new ArgumentException($"{target.Path} is not a ref of a Recall actor system.", nameof(target));
        }

        var system = internalRef.System;
        var promise = new PromiseActorRef(system, system.TempPath(system.NextAskName()));
        return await AskThrough<T>(target, message, promise, timeout, cancellationToken);
    }

    internal static async Task<T> AskThrough<T>(IActorRef target, object message, PromiseActorRef promise, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var system = promise.System;
        using var activity = ActorTracing.StartAsk(target, message);
        promise.Asked = (target.Path, message.GetType());
        target.Tell(message, promise);
        RunNext.Release(); // an actor that blocks on this ask must not hold the target back
        object reply;
        try
        {
            reply = await promise.Reply.WaitAsync(timeout, system.TimeProvider, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new AskTimeoutException(target.Path, message.GetType(), timeout);
        }
        finally
        {
            promise.Abandon();
        }

        return reply switch
        {
            T typed => typed,
            Status.Failure failure => throw failure.Cause,
            _ => throw new InvalidCastException(
                $"Ask of {message.GetType().Name} to {target.Path} expected a reply of type {typeof(T).Name} but got {reply.GetType().Name}."),
        };
    }
}
