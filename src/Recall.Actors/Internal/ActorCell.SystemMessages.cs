namespace Recall.Actors.Internal;

/// <summary>
/// The system-message half of dispatch: the lock-free stack drained in the order sent at the start
/// of every turn (and between user messages), and what each lifecycle message does.
/// </summary>
internal sealed partial class ActorCell
{
    private void ProcessSystemMessages()
    {
        var taken = Interlocked.Exchange(ref _systemMessages, null);

        // The stack is newest first; reverse it to handle the messages in the order sent.
        SystemMessage? ordered = null;
        while (taken is not null)
        {
            var next = taken.Next;
            taken.Next = ordered;
            ordered = taken;
            taken = next;
        }

        while (ordered is not null)
        {
            var message = ordered;
            ordered = ordered.Next;
            message.Next = null;
            try
            {
                if (_state == CellState.Terminated)
                {
                    HandleWhileTerminated(message);
                }
                else
                {
                    Handle(message);
                }
            }
            catch (Exception exception)
            {
                Log.SystemMessageFailed(_system.Logger, exception, Self.Path, message.GetType().Name);
            }
        }
    }

    private void Handle(SystemMessage message)
    {
        switch (message)
        {
            case Create:
                CreateInstance(postRestartCause: null);
                break;
            case Terminate:
                BeginTerminate();
                break;
            case Failed failed:
                Supervise(failed);
                break;
            case ChildTerminated childTerminated:
                OnChildTerminated(childTerminated.Child);
                break;
            case Resume:
                _failed = false;
                if (_extras?.FailedMessage is Failed escalated)
                {
                    // This actor failed by escalating a child's failure; that child still waits for a decision.
                    _extras.FailedMessage = null;
                    escalated.Child.SendSystem(new Resume());
                }

                break;
            case Recreate recreate:
                BeginRecreate(recreate.Cause);
                break;
            case Watch watch:
                (EnsureExtras().Watchers ??= []).Add(watch.Watcher);
                break;
            case Unwatch unwatch:
                _extras?.Watchers?.Remove(unwatch.Watcher);
                break;
            case DeathWatchNotification notification:
                if (_extras?.Watching?.Remove(notification.Actor) == true)
                {
                    // Through the mailbox, so it arrives after what the dead actor sent before.
                    QueueTerminated(notification.Actor);
                }

                break;
            case RunContinuation continuation:
                RunContinuationOnActor(continuation);
                break;
            case TaskCompleted completed:
                OnTaskCompleted(completed);
                break;
        }
    }

    private void HandleWhileTerminated(SystemMessage message)
    {
        if (message is Watch watch)
        {
            // Watching an actor that already stopped: the watcher learns of it at once.
            watch.Watcher.SendSystemMessage(new DeathWatchNotification(Self));
        }
        else if (message is RunContinuation continuation)
        {
            // An async handler resumed after its actor stopped: it runs to its end off the actor
            // (no actor context), so that its finally blocks run and what it holds is released.
            // Dropping it would leak whatever the handler awaited with (connections, slots, locks).
            continuation.Callback(continuation.State);
        }
    }
}
