using Recall.Actors;

namespace Recall.Persistence;

/// <summary>
/// What a typed event-sourced actor does with a command, as data: persist events, do nothing,
/// stash, stop, mark it unhandled — followed by side effects (<see cref="ThenRun"/>,
/// <see cref="ThenReply{TReply}"/>, <see cref="ThenStop"/>, <see cref="ThenUnstashAll"/>) that run
/// after the events are stored and applied, with the new state. Immutable: each <c>Then</c> returns
/// a new effect. Create effects with the actor's <c>Effect</c> factory.
/// </summary>
public class Effect<TEvent, TState>
    where TEvent : notnull
{
    internal Effect(EffectKind kind, IReadOnlyList<TEvent> events, SideEffect<TState>? sideEffects)
    {
        Kind = kind;
        Events = events;
        SideEffects = sideEffects;
    }

    /// <summary>The events to persist (empty unless the effect persists).</summary>
    public IReadOnlyList<TEvent> Events { get; }

    internal EffectKind Kind { get; }

    /// <summary>The last side effect added (each knows the one before it), or null.</summary>
    internal SideEffect<TState>? SideEffects { get; }

    /// <summary>Runs <paramref name="callback"/> with the new state after the events are applied.</summary>
    public Effect<TEvent, TState> ThenRun(Action<TState> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new(Kind, Events, new SideEffect<TState>.Run(SideEffects, callback));
    }

    /// <summary>Replies with what <paramref name="reply"/> makes of the new state.</summary>
    public ReplyEffect<TEvent, TState> ThenReply<TReply>(IReplyTo<TReply> replyTo, Func<TState, TReply> reply)
    {
        ArgumentNullException.ThrowIfNull(replyTo);
        ArgumentNullException.ThrowIfNull(reply);
        return new(Kind, Events, new SideEffect<TState>.Reply<TReply>(SideEffects, replyTo, reply));
    }

    /// <summary>Stops the actor after the events are applied.</summary>
    public Effect<TEvent, TState> ThenStop() => new(Kind, Events, new SideEffect<TState>.StopSelf(SideEffects));

    /// <summary>Puts the stashed commands back in front of the mailbox after the events are applied.</summary>
    public Effect<TEvent, TState> ThenUnstashAll() => new(Kind, Events, new SideEffect<TState>.UnstashAll(SideEffects));
}

/// <summary>An effect that replies (or explicitly does not): the only kind an actor with enforced replies may return.</summary>
public sealed class ReplyEffect<TEvent, TState> : Effect<TEvent, TState>
    where TEvent : notnull
{
    internal ReplyEffect(EffectKind kind, IReadOnlyList<TEvent> events, SideEffect<TState>? sideEffects)
        : base(kind, events, sideEffects)
    {
    }

    /// <summary>Runs <paramref name="callback"/> with the new state, keeping the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenRun(Action<TState> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new(Kind, Events, new SideEffect<TState>.Run(SideEffects, callback));
    }

    /// <summary>Stops the actor after the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenStop() => new(Kind, Events, new SideEffect<TState>.StopSelf(SideEffects));

    /// <summary>Unstashes after the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenUnstashAll() => new(Kind, Events, new SideEffect<TState>.UnstashAll(SideEffects));
}

/// <summary>
/// One side effect of an effect, and the one added before it: adding one to an immutable effect
/// costs this node, not a copy of a list or a closure around the user's callback.
/// </summary>
internal abstract class SideEffect<TState>(SideEffect<TState>? previous)
{
    /// <summary>The side effects added before this one, in order.</summary>
    public SideEffect<TState>? Previous { get; } = previous;

    /// <summary>Runs the side effects ending with <paramref name="last"/>, first added first, with the new state.</summary>
    public static void RunAll(SideEffect<TState>? last, TState state, ISideEffectTarget target)
    {
        if (last is null)
        {
            return;
        }

        RunAll(last.Previous, state, target); // as deep as the Then calls of one effect
        last.Invoke(state, target);
    }

    protected abstract void Invoke(TState state, ISideEffectTarget target);

    /// <summary><c>ThenRun</c>.</summary>
    public sealed class Run(SideEffect<TState>? previous, Action<TState> callback) : SideEffect<TState>(previous)
    {
        protected override void Invoke(TState state, ISideEffectTarget target) => callback(state);
    }

    /// <summary><c>ThenReply</c>.</summary>
    public sealed class Reply<TReply>(SideEffect<TState>? previous, IReplyTo<TReply> replyTo, Func<TState, TReply> reply) : SideEffect<TState>(previous)
    {
        protected override void Invoke(TState state, ISideEffectTarget target) => replyTo.Tell(reply(state));
    }

    /// <summary><c>ThenStop</c>.</summary>
    public sealed class StopSelf(SideEffect<TState>? previous) : SideEffect<TState>(previous)
    {
        protected override void Invoke(TState state, ISideEffectTarget target) => target.StopSelf();
    }

    /// <summary><c>ThenUnstashAll</c>.</summary>
    public sealed class UnstashAll(SideEffect<TState>? previous) : SideEffect<TState>(previous)
    {
        protected override void Invoke(TState state, ISideEffectTarget target) => target.UnstashAll();
    }
}

/// <summary>What side effects may do to the actor that runs them.</summary>
internal interface ISideEffectTarget
{
    void StopSelf();

    void UnstashAll();
}

internal enum EffectKind
{
    Persist,
    None,
    Unhandled,
    Stash,
}

/// <summary>Makes effects for an actor with events <typeparamref name="TEvent"/> and state <typeparamref name="TState"/>.</summary>
public readonly struct EffectFactory<TEvent, TState>
    where TEvent : notnull
{
    private static readonly IReadOnlyList<TEvent> NoEvents = [];

    /// <summary>Persist one event; side effects run after it is stored and applied.</summary>
    public Effect<TEvent, TState> Persist(TEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        return new(EffectKind.Persist, [@event], null);
    }

    /// <summary>Persist several events in one atomic write (all or none).</summary>
    public Effect<TEvent, TState> Persist(IEnumerable<TEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        TEvent[] all = [.. events];
        return new(all.Length == 0 ? EffectKind.None : EffectKind.Persist, all, null);
    }

    /// <summary>Persist nothing; side effects run at once.</summary>
    public Effect<TEvent, TState> None() => new(EffectKind.None, NoEvents, null);

    /// <summary>The command is not for this actor: logged, and an unhandled Terminated fails the actor.</summary>
    public Effect<TEvent, TState> Unhandled() => new(EffectKind.Unhandled, NoEvents, null);

    /// <summary>Set the command aside; <see cref="UnstashAll"/> (or <c>ThenUnstashAll</c>) brings it back.</summary>
    public Effect<TEvent, TState> Stash() => new(EffectKind.Stash, NoEvents, null);

    /// <summary>Put the stashed commands back in front of the mailbox.</summary>
    public Effect<TEvent, TState> UnstashAll() => None().ThenUnstashAll();

    /// <summary>Stop the actor.</summary>
    public Effect<TEvent, TState> Stop() => None().ThenStop();

    /// <summary>Reply without persisting.</summary>
    public ReplyEffect<TEvent, TState> Reply<TReply>(IReplyTo<TReply> replyTo, TReply message)
    {
        ArgumentNullException.ThrowIfNull(replyTo);
        ArgumentNullException.ThrowIfNull(message);
        return None().ThenReply(replyTo, _ => message);
    }

    /// <summary>Explicitly no reply (for an actor with enforced replies).</summary>
    public ReplyEffect<TEvent, TState> NoReply() => new(EffectKind.None, NoEvents, null);
}
