namespace Recall.Actors.Internal;

/// <summary>
/// Fault handling: a failure sent to the parent (or stopping a root actor), the parent's supervisor
/// decision on a failed child, and the restart that replaces a failed instance.
/// </summary>
internal sealed partial class ActorCell
{
    /// <summary>Why the actor stopped, when it did not stop by request (it failed, its recovery failed); said to asks whose message it could not take.</summary>
    internal string? StopReason
    {
        get => Volatile.Read(ref _extras)?.StopReason;
        set => EnsureExtras().StopReason = value;
    }

    internal ChildRestartRecord RestartRecord => EnsureExtras().RestartRecord;

    private void HandleFailure(Exception exception)
    {
        if (_state >= CellState.Terminating)
        {
            Log.FailedWhileStopping(_system.Logger, exception, Self.Path);
            return;
        }

        _failed = true;
        if (_extras is not null || _current.Message is not null)
        {
            EnsureExtras().FailedMessage = _current.Message;
        }

        if (_current.Message is not null)
        {
            // Whatever the supervisor decides, this message will not be answered by the handler that threw.
            ActorSystem.FailAsk(_current.Sender, Self, _current.Message, $"the actor failed handling it with {exception.GetType().Name}: {exception.Message}", exception);
        }

        if (_parent is null)
        {
            Log.ActorFailed(_system.Logger, exception, Self.Path, _current.Message?.GetType().Name ?? "(none)", Directive.Stop);
            StopReason ??= FailureReason(exception);
            BeginTerminate();
            return;
        }

        _parent.SendSystem(new Failed(this, exception, _current.Message));
    }

    private void Supervise(Failed failed)
    {
        var child = failed.Child;
        if (child._parent != this || child._stopRequested)
        {
            return;
        }

        var strategy = _actor?.ChildSupervisorStrategy ?? SupervisorStrategy.Default;
        Directive directive;
        try
        {
            directive = strategy.Decide(failed.Cause, child.RestartRecord, _system.TimeProvider.GetUtcNow());
        }
        catch (Exception exception)
        {
            Log.DeciderFailed(_system.Logger, exception, Self.Path);
            directive = Directive.Escalate;
        }

        Log.ActorFailed(_system.Logger, failed.Cause, child.Self.Path, failed.Message?.GetType().Name ?? "(none)", directive);
        switch (directive)
        {
            case Directive.Resume:
                child.SendSystem(new Resume());
                break;
            case Directive.Restart:
                child.SendSystem(new Recreate(failed.Cause));
                break;
            case Directive.Stop:
                child.StopReason ??= FailureReason(failed.Cause);
                Stop(child.Self);
                break;
            default:
                _current = new Envelope(failed, null);
                HandleFailure(failed.Cause);
                _current = default;
                break;
        }
    }

    private static string FailureReason(Exception cause) => $"it failed with {cause.GetType().Name}: {cause.Message}";

    private void BeginRecreate(Exception cause)
    {
        if (_state >= CellState.Terminating)
        {
            return;
        }

        var failedMessage = _extras?.FailedMessage;
        if (_actor is not null)
        {
            try
            {
                _actor.AroundPreRestart(cause, failedMessage);
            }
            catch (Exception exception)
            {
                Log.HookFailed(_system.Logger, exception, Self.Path, "PreRestart");
            }
        }

        ClearBehaviourState(keepStash: true);
        _state = CellState.Recreating;
        EnsureExtras().RecreateCause = cause;
        if (!HasStoppingChildren())
        {
            FinishRecreate();
        }
    }

    private void FinishRecreate()
    {
        var cause = _extras!.RecreateCause!;
        _extras.RecreateCause = null;
        _extras.FailedMessage = null;
        _failed = false;
        _actor = null;
        CreateInstance(cause);
    }
}
