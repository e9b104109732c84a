using Recall.Actors.Internal;
using Recall.Persistence.Internal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence;

public abstract partial class EventSourcedActor<TCommand, TEvent, TState>
{
    /// <summary>
    /// Carries out the <see cref="Effect{TEvent, TState}"/> a command was decided into: persists its
    /// events on the runtime's <see cref="RunningPhase"/> (one <see cref="EffectInvocation"/> per
    /// event, so no handler closure per command), stashes, marks the command unhandled, or runs the
    /// side effects at once. Nested in the actor, whose state and handlers it uses.
    /// </summary>
    private sealed class EffectInterpreter(EventSourcedActor<TCommand, TEvent, TState> actor)
    {
        /// <summary>Decides what <paramref name="command"/> does, and carries it out.</summary>
        public void Decide(TCommand command)
        {
            var pending = actor.OnCommandAsync(actor._state, command);
            if (pending.IsCompletedSuccessfully)
            {
                Apply(pending.Result, command);
                return;
            }

            DecideLater(pending, command);
        }

        /// <summary>An event of <paramref name="effect"/> is stored: apply it, and after the effect's last event run its side effects with the new state.</summary>
        public void Applied(object stored, Effect<TEvent, TState> effect, bool last)
        {
            var @event = actor.AsEvent(stored is Tagged tagged ? tagged.Payload : stored);
            actor._state = actor.OnEvent(actor._state, @event);
            MaybeSnapshot(@event);
            if (last)
            {
                RunSideEffects(effect);
            }
        }

        // Apart from Decide, so that the closure is made only when deciding takes I/O: commands
        // wait in the mailbox until the effect is applied.
        private void DecideLater(ValueTask<Effect<TEvent, TState>> pending, TCommand command) =>
            actor.RunTask(async () =>
            {
                var effect = await pending;
                Apply(effect, command);
                actor._runtime.Running.SendPersisted();
            });

        private void Apply(Effect<TEvent, TState> effect, TCommand command)
        {
            switch (effect.Kind)
            {
                case EffectKind.Persist when effect.Events.Count == 1:
                    // One event (the common case): no list.
                    actor._runtime.Running.Persist(new EffectInvocation(this, Tagged(effect.Events[0]), effect, last: true, actor.Cell.CurrentEnvelope));
                    break;
                case EffectKind.Persist:
                    PersistAll(effect);
                    break;
                case EffectKind.Unhandled:
                    actor.Unhandled(command);
                    RunSideEffects(effect);
                    break;
                case EffectKind.Stash:
                    actor.Stash.Stash();
                    break;
                default:
                    RunSideEffects(effect);
                    break;
            }
        }

        private void PersistAll(Effect<TEvent, TState> effect)
        {
            var running = actor._runtime.Running;
            var events = effect.Events;
            var origin = actor.Cell.CurrentEnvelope;
            var invocations = new List<Invocation>(events.Count);
            for (var i = 0; i < events.Count; i++)
            {
                var @event = events[i];
                ArgumentNullException.ThrowIfNull(@event, nameof(events));
                invocations.Add(new EffectInvocation(this, Tagged(@event), effect, last: i == events.Count - 1, origin));
            }

            running.PersistAll(invocations);
        }

        private object Tagged(TEvent @event)
        {
            var tags = actor.Tags(@event);
            return tags.Count == 0 ? @event : new Tagged(@event, tags);
        }

        private void MaybeSnapshot(TEvent @event)
        {
            var sequenceNumber = actor._runtime.LastSequenceNumber;
            if (actor.ShouldSnapshot(actor._state, @event, sequenceNumber) || (actor._snapshots is { } retention && sequenceNumber % retention.EveryNEvents == 0))
            {
                actor._runtime.StoreOperations.SaveSnapshot(actor._state);
            }
        }

        private void RunSideEffects(Effect<TEvent, TState> effect) => SideEffect<TState>.RunAll(effect.SideEffects, actor._state, actor);
    }

    /// <summary>One event of a persisted effect, waiting for its write (always stashing, as <c>Persist</c>).</summary>
    private sealed class EffectInvocation(EffectInterpreter interpreter, object stored, Effect<TEvent, TState> effect, bool last, Envelope origin)
        : Invocation(stored, stashing: true, deferred: false, origin)
    {
        public override void Invoke() => interpreter.Applied(Event, effect, last);
    }
}
