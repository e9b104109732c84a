using Recall.Actors.Internal;

namespace Recall.Actors;

/// <summary>Where a reply of type <typeparamref name="T"/> goes: put it in a command so the handler can only answer with a <typeparamref name="T"/>.</summary>
public interface IReplyTo<in T>
{
    /// <summary>The path of the actor (or ask) that receives the reply.</summary>
    ActorPath Path { get; }

    /// <summary>Sends the reply.</summary>
    void Tell(T message);
}

/// <summary>A ref that accepts only messages of type <typeparamref name="T"/>.</summary>
public interface IActorRef<in T> : IReplyTo<T>
{
    /// <summary>The untyped ref behind it.</summary>
    IActorRef Untyped { get; }
}

/// <summary>Typed views of refs, and the ask that builds its message around a typed reply ref.</summary>
public static class TypedActorRefExtensions
{
    /// <summary>A typed view of <paramref name="actor"/>: it promises to accept <typeparamref name="T"/>.</summary>
    public static IActorRef<T> As<T>(this IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        return new TypedActorRef<T>(actor);
    }

    /// <summary>
    /// Creates a message with a reply ref (<paramref name="createMessage"/>), sends it and waits for
    /// the reply: <c>await account.Ask&lt;Balance&gt;(replyTo => new GetBalance(replyTo), timeout)</c>.
    /// </summary>
    /// <exception cref="AskTimeoutException">No reply within <paramref name="timeout"/>.</exception>
    public static Task<TReply> Ask<TReply>(this IActorRef target, Func<IReplyTo<TReply>, object> createMessage, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(createMessage);
        if (target is not IInternalActorRef internalRef)
        {
            throw new ArgumentException($"{target.Path} is not a ref of a Recall actor system.", nameof(target));
        }

        var system = internalRef.System;
        var promise = new PromiseActorRef(system, system.TempPath(system.NextAskName()));
        return ActorRefExtensions.AskThrough<TReply>(target, createMessage(new TypedActorRef<TReply>(promise)), promise, timeout, cancellationToken);
    }

    /// <summary>A typed ref over an untyped one; equal when the untyped refs are equal.</summary>
    private sealed record TypedActorRef<T>(IActorRef Untyped) : IActorRef<T>
    {
        public ActorPath Path => Untyped.Path;

        public void Tell(T message)
        {
            ArgumentNullException.ThrowIfNull(message);
            Untyped.Tell(message, ActorCell.Current?.Self);
        }

        public override string ToString() => Untyped.Path.ToString();
    }
}
