namespace Recall.Actors.Internal;

/// <summary>
/// Creating the actor instance and stopping it: children first, then PostStop, then the watchers
/// and the parent are told; what is left in the stash and the mailbox goes to dead letters. Also
/// the clearing of the behaviour state that a restart does too.
/// </summary>
internal sealed partial class ActorCell
{
    private void CreateInstance(Exception? postRestartCause)
    {
        try
        {
            var previous = t_constructing;
            t_constructing = this;
            try
            {
                _actor = _props.Factory() ?? throw new InvalidOperationException("The props factory returned null.");
            }
            finally
            {
                t_constructing = previous;
            }

            if (_extras is not null)
            {
                _extras.Logger = null;
            }

            _state = CellState.Running;
            if (postRestartCause is null)
            {
                _actor.AroundPreStart();
            }
            else
            {
                _actor.AroundPostRestart(postRestartCause);
            }
        }
        catch (Exception exception)
        {
            _state = CellState.Running;
            HandleFailure(new ActorInitializationException(Self.Path, exception));
        }
    }

    private void BeginTerminate()
    {
        if (_state >= CellState.Terminating)
        {
            return;
        }

        _stopRequested = true;
        _state = CellState.Terminating;
        ClearBehaviourState(keepStash: false);
        var children = _extras?.Children;
        if (children is not null)
        {
            ActorCell[] all;
            lock (children)
            {
                all = [.. children.Values];
            }

            foreach (var child in all)
            {
                child.RequestStop();
            }
        }

        if (!HasChildren())
        {
            FinishTerminate();
        }
    }

    private void FinishTerminate()
    {
        if (_actor is not null)
        {
            try
            {
                _actor.AroundPostStop();
            }
            catch (Exception exception)
            {
                Log.HookFailed(_system.Logger, exception, Self.Path, "PostStop");
            }
        }

        _actor = null;
        _state = CellState.Terminated;

        if (_extras?.Watchers is { } watchers)
        {
            foreach (var watcher in watchers)
            {
                watcher.SendSystemMessage(new DeathWatchNotification(Self));
            }

            watchers.Clear();
        }

        if (_extras?.Watching is { } watching)
        {
            foreach (var subject in watching)
            {
                (subject as IInternalActorRef)?.SendSystemMessage(new Unwatch(Self));
            }

            watching.Clear();
        }

        if (_parent is not null)
        {
            _parent.SendSystem(new ChildTerminated(this));
        }
        else
        {
            _system.OnRootTerminated();
        }
    }

    private void RequestStop()
    {
        _stopRequested = true;
        SendSystem(new Terminate());
    }

    private void ClearBehaviourState(bool keepStash)
    {
        if (_extras is not { } extras)
        {
            return;
        }

        extras.Timers?.CancelAll();
        extras.ReceiveTimeoutTimer?.Dispose();
        extras.ReceiveTimeoutTimer = null;
        extras.ReceiveTimeout = null;
        extras.Behaviors?.Clear();
        if (extras.Stash is { Count: > 0 } stash)
        {
            if (keepStash)
            {
                // A restart must not lose what the old instance set aside.
                stash.UnstashAll();
            }
            else
            {
                foreach (var envelope in stash.TakeAll())
                {
                    _system.PublishDeadLetter(new DeadLetter(envelope.Message, envelope.Sender, Self), StopReason);
                }
            }
        }
    }

    private void DrainToDeadLetters()
    {
        var unstashed = _extras?.Unstashed;
        while (unstashed is { Count: > 0 })
        {
            var envelope = unstashed.Dequeue();
            _system.PublishDeadLetter(new DeadLetter(envelope.Message, envelope.Sender, Self), StopReason);
        }

        while (_mailbox.TryDequeue(out var envelope))
        {
            _system.PublishDeadLetter(new DeadLetter(envelope.Message, envelope.Sender, Self), StopReason);
        }
    }

    public void Stop(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is not LocalActorRef local)
        {
            throw new ArgumentException($"{actor.Path} is not an actor of this system.", nameof(actor));
        }

        if (local.Cell == this)
        {
            if (_state < CellState.Terminating)
            {
                _stopRequested = true;
                SendSystem(new Terminate());
            }

            return;
        }

        if (local.Cell._parent != this)
        {
            throw new ArgumentException($"{Self.Path} can stop only itself and its children, not {actor.Path}.", nameof(actor));
        }

        local.Cell.RequestStop();
    }

    /// <summary>Stops this actor from outside its turn (system API).</summary>
    public void StopFromOutside() => RequestStop();
}
