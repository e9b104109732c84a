namespace Recall.Actors.Internal;

/// <summary>
/// Watching other actors: Watch and Unwatch, and delivering Terminated through the mailbox. The
/// watched side (the watchers told when this actor stops) is in the lifecycle part.
/// </summary>
internal sealed partial class ActorCell
{
    public IActorRef Watch(IActorRef subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (subject is not IInternalActorRef target)
        {
            throw new ArgumentException($"{subject.Path} cannot be watched: it is not a ref of this system.", nameof(subject));
        }

        if (subject.Equals(Self))
        {
            return subject;
        }

        if ((EnsureExtras().Watching ??= []).Add(subject))
        {
            target.SendSystemMessage(new Watch(Self));
        }

        return subject;
    }

    public IActorRef Unwatch(IActorRef subject)
    {
        ArgumentNullException.ThrowIfNull(subject);
        if (_extras?.Watching?.Remove(subject) == true)
        {
            (subject as IInternalActorRef)?.SendSystemMessage(new Unwatch(Self));
        }

        if (_extras?.TerminatedQueued?.Remove(subject) == true)
        {
            // Its Terminated is already in the mailbox: drop it when it comes up.
            (_extras.TerminatedCancelled ??= []).Add(subject);
        }

        return subject;
    }

    /// <summary>Delivers Terminated through the mailbox, so it arrives after what the dead actor sent before.</summary>
    private void QueueTerminated(IActorRef subject)
    {
        (EnsureExtras().TerminatedQueued ??= []).Add(subject);
        Self.Tell(new Terminated(subject), subject);
    }
}
