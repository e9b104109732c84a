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
    internal Effect(EffectKind kind, IReadOnlyList<TEvent> events, IReadOnlyList<Action<TState, ISideEffectTarget>> sideEffects)
    {
        Kind = kind;
        Events = events;
        SideEffects = sideEffects;
    }

    /// <summary>The events to persist (empty unless the effect persists).</summary>
    public IReadOnlyList<TEvent> Events { get; }

    internal EffectKind Kind { get; }

    internal IReadOnlyList<Action<TState, ISideEffectTarget>> SideEffects { get; }

    /// <summary>Runs <paramref name="callback"/> with the new state after the events are applied.</summary>
    public Effect<TEvent, TState> ThenRun(Action<TState> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new(Kind, Events, Append((state, _) => callback(state)));
    }

    /// <summary>Replies with what <paramref name="reply"/> makes of the new state.</summary>
    public ReplyEffect<TEvent, TState> ThenReply<TReply>(IReplyTo<TReply> replyTo, Func<TState, TReply> reply)
    {
        ArgumentNullException.ThrowIfNull(replyTo);
        ArgumentNullException.ThrowIfNull(reply);
        return new(Kind, Events, Append((state, _) => replyTo.Tell(reply(state))));
    }

    /// <summary>Stops the actor after the events are applied.</summary>
    public Effect<TEvent, TState> ThenStop() => new(Kind, Events, Append(static (_, target) => target.StopSelf()));

    /// <summary>Puts the stashed commands back in front of the mailbox after the events are applied.</summary>
    public Effect<TEvent, TState> ThenUnstashAll() => new(Kind, Events, Append(static (_, target) => target.UnstashAll()));

    internal IReadOnlyList<Action<TState, ISideEffectTarget>> Append(Action<TState, ISideEffectTarget> sideEffect)
    {
        var all = new Action<TState, ISideEffectTarget>[SideEffects.Count + 1];
        for (var i = 0; i < SideEffects.Count; i++)
        {
            all[i] = SideEffects[i];
        }

        all[^1] = sideEffect;
        return all;
    }
}

/// <summary>An effect that replies (or explicitly does not): the only kind an actor with enforced replies may return.</summary>
public sealed class ReplyEffect<TEvent, TState> : Effect<TEvent, TState>
    where TEvent : notnull
{
    internal ReplyEffect(EffectKind kind, IReadOnlyList<TEvent> events, IReadOnlyList<Action<TState, ISideEffectTarget>> sideEffects)
        : base(kind, events, sideEffects)
    {
    }

    /// <summary>Runs <paramref name="callback"/> with the new state, keeping the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenRun(Action<TState> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new(Kind, Events, Append((state, _) => callback(state)));
    }

    /// <summary>Stops the actor after the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenStop() => new(Kind, Events, Append(static (_, target) => target.StopSelf()));

    /// <summary>Unstashes after the reply.</summary>
    public new ReplyEffect<TEvent, TState> ThenUnstashAll() => new(Kind, Events, Append(static (_, target) => target.UnstashAll()));
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
    private static readonly IReadOnlyList<Action<TState, ISideEffectTarget>> NoSideEffects = [];

    /// <summary>Persist one event; side effects run after it is stored and applied.</summary>
    public Effect<TEvent, TState> Persist(TEvent @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        return new(EffectKind.Persist, [@event], NoSideEffects);
    }

    /// <summary>Persist several events in one atomic write (all or none).</summary>
    public Effect<TEvent, TState> Persist(IEnumerable<TEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        TEvent[] all = [.. events];
        return new(all.Length == 0 ? EffectKind.None : EffectKind.Persist, all, NoSideEffects);
    }

    /// <summary>Persist nothing; side effects run at once.</summary>
    public Effect<TEvent, TState> None() => new(EffectKind.None, NoEvents, NoSideEffects);

    /// <summary>The command is not for this actor: logged, and an unhandled Terminated fails the actor.</summary>
    public Effect<TEvent, TState> Unhandled() => new(EffectKind.Unhandled, NoEvents, NoSideEffects);

    /// <summary>Set the command aside; <see cref="UnstashAll"/> (or <c>ThenUnstashAll</c>) brings it back.</summary>
    public Effect<TEvent, TState> Stash() => new(EffectKind.Stash, NoEvents, NoSideEffects);

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
    public ReplyEffect<TEvent, TState> NoReply() => new(EffectKind.None, NoEvents, NoSideEffects);
}
