using Recall.Actors.Internal;

namespace Recall.Persistence.Internal;

/// <summary>
/// A handler waiting to run: for a persisted event once its write is stored, for a deferred one
/// once everything queued before it has run. It remembers the command's envelope, so the handler
/// sees that command's sender.
/// </summary>
internal abstract class Invocation(object @event, bool stashing, bool deferred, Envelope origin)
{
    public object Event { get; } = @event;

    /// <summary>Whether new commands wait (Persist, PersistAll, Defer) or not (the Async variants).</summary>
    public bool Stashing { get; } = stashing;

    /// <summary>Deferred: not written, runs in turn.</summary>
    public bool Deferred { get; } = deferred;

    public Envelope Origin { get; } = origin;

    public long SequenceNumber { get; set; }

    /// <summary>The last invocation of its atomic write: the write's result covers the invocations up to this one.</summary>
    public bool EndsWrite { get; set; }

    public abstract void Invoke();
}

/// <remarks>The event comes as an object: a value type is boxed once, by the caller, for the handler and the journal alike.</remarks>
internal sealed class Invocation<TEvent>(object @event, Action<TEvent> handler, bool stashing, bool deferred, Envelope origin)
    : Invocation(@event, stashing, deferred, origin)
    where TEvent : notnull
{
    public override void Invoke() => handler((TEvent)Event);
}
