namespace Recall.Actors.Internal;

/// <summary>
/// Become and Unbecome, and the stash: what the actor sets aside and takes back, ahead of its mailbox.
/// </summary>
internal sealed partial class ActorCell
{
    public IStash Stash => EnsureExtras().Stash ??= new StashBuffer(this, _props.StashCapacity ?? _system.Options.DefaultStashCapacity);

    public void Become(Action<object> behavior, bool discardOld = true)
    {
        ArgumentNullException.ThrowIfNull(behavior);
        var behaviors = EnsureExtras().Behaviors ??= [];
        if (discardOld && behaviors.Count > 0)
        {
            behaviors[^1] = behavior;
        }
        else
        {
            behaviors.Add(behavior);
        }
    }

    public void Unbecome()
    {
        var behaviors = _extras?.Behaviors;
        if (behaviors is { Count: > 0 })
        {
            behaviors.RemoveAt(behaviors.Count - 1);
        }
    }

    public Envelope CurrentEnvelope
    {
        get => _current;
        set => _current = value;
    }

    public void Prepend(List<Envelope> envelopes)
    {
        var extras = EnsureExtras();
        if (extras.Unstashed is not { Count: > 0 } existing)
        {
            var queue = extras.Unstashed ??= new Queue<Envelope>(envelopes.Count);
            foreach (var envelope in envelopes)
            {
                queue.Enqueue(envelope);
            }

            return;
        }

        var merged = new Queue<Envelope>(envelopes.Count + existing.Count);
        foreach (var envelope in envelopes)
        {
            merged.Enqueue(envelope);
        }

        foreach (var envelope in existing)
        {
            merged.Enqueue(envelope);
        }

        extras.Unstashed = merged;
    }
}
