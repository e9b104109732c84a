using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;

namespace Recall.Actors.Internal;

/// <summary>
/// The runtime of one actor: its mailbox, its place in the hierarchy, its lifecycle and the
/// dispatch of its messages on the thread pool. One cell lives as long as the actor; restarts
/// replace the instance inside it and keep the mailbox.
/// </summary>
/// <remarks>
/// Scheduling: posting a message sets <see cref="_scheduled"/> from 0 to 1 with one
/// compare-exchange and, if it won, queues the cell on the thread pool. A turn handles all
/// system messages, then up to <see cref="ActorSystemOptions.Throughput"/> user messages
/// (system messages still first), then clears the flag and looks again, so a message posted
/// during the turn is never stranded.
/// A message that wakes an idle actor from inside a turn keeps it in the thread's run-next slot
/// (<see cref="RunNext"/>) instead of queueing it.
/// </remarks>
internal sealed partial class ActorCell : IActorContext, IThreadPoolWorkItem
{
    [ThreadStatic]
    private static ActorCell? t_current;

    [ThreadStatic]
    private static ActorCell? t_constructing;

    private readonly ActorSystem _system;
    private readonly ActorCell? _parent;
    private readonly Props _props;

    private MpscQueue<Envelope> _mailbox;
    private SystemMessage? _systemMessages; // lock-free stack, newest first
    private int _scheduled;

    private Actor? _actor;
    private Envelope _current;
    private volatile CellState _state;
    private bool _failed;       // waiting for the supervisor's decision
    private bool _stopRequested;
    private int _pendingTasks;  // async handlers in flight: user messages wait
    private Extras? _extras;    // what most actors never need, allocated on first use

    public ActorCell(ActorSystem system, ActorCell? parent, Props props, ActorPath path)
    {
        _system = system;
        _parent = parent;
        _props = props;
        Self = new LocalActorRef(this, path);
    }

    private enum CellState : byte
    {
        Starting,
        Running,
        Recreating,
        Terminating,
        Terminated,
    }

    /// <summary>The cell whose turn runs on this thread, if any.</summary>
    public static ActorCell? Current => t_current;

    /// <summary>The cell whose actor instance is being constructed on this thread.</summary>
    public static ActorCell? Constructing => t_constructing;

    public LocalActorRef Self { get; }

    IActorRef IActorContext.Self => Self;

    public ActorSystem System => _system;

    public IActorRef Sender => _current.Sender ?? _system.DeadLetters;

    /// <summary>The sender of the current message, or null when it had none.</summary>
    public IActorRef? CurrentSender => _current.Sender;

    public IActorRef Parent => (IActorRef?)_parent?.Self ?? Self;

    public bool IsTerminated => _state == CellState.Terminated;

    /// <summary>Why the actor stopped, when it did not stop by request (it failed, its recovery failed); said to asks whose message it could not take.</summary>
    internal string? StopReason
    {
        get => Volatile.Read(ref _extras)?.StopReason;
        set => EnsureExtras().StopReason = value;
    }

    internal ChildRestartRecord RestartRecord => EnsureExtras().RestartRecord;

    public IReadOnlyCollection<IActorRef> Children
    {
        get
        {
            var children = _extras?.Children;
            if (children is null)
            {
                return [];
            }

            lock (children)
            {
                return children.Values.Where(c => !c._stopRequested).Select(c => (IActorRef)c.Self).ToArray();
            }
        }
    }

    public ITimerScheduler Timers => EnsureExtras().Timers ??= new TimerScheduler(this);

    public IStash Stash => EnsureExtras().Stash ??= new StashBuffer(this, _props.StashCapacity ?? _system.Options.DefaultStashCapacity);

    public ILogger Logger => EnsureExtras().Logger ??= _system.LoggerFactory.CreateLogger(_actor?.GetType() ?? typeof(Actor));

    public TimeSpan? ReceiveTimeout => _extras?.ReceiveTimeout;

    // ---- read from other threads, by metrics and graceful shutdown (never on the message path)

    /// <summary>About how many user messages wait in the mailbox; see <see cref="MpscQueue{T}.ApproximateCount"/>.</summary>
    public int MailboxDepth => _mailbox.ApproximateCount;

    /// <summary>Async handlers (<see cref="RunTask"/>) in flight.</summary>
    public int PendingTaskCount => Volatile.Read(ref _pendingTasks);

    /// <summary>The current actor instance, or null between incarnations and after the actor stopped.</summary>
    public Actor? Instance => Volatile.Read(ref _actor);

    /// <summary>Adds the children (also those stopping) to <paramref name="cells"/>.</summary>
    public void AddChildrenTo(List<ActorCell> cells)
    {
        var children = Volatile.Read(ref _extras)?.Children;
        if (children is null)
        {
            return;
        }

        lock (children)
        {
            cells.AddRange(children.Values);
        }
    }

    // ---- sending

    public void Post(Envelope envelope)
    {
        _mailbox.Enqueue(envelope);
        if (Volatile.Read(ref _scheduled) == 0 || IsIdleAfterFence())
        {
            if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
            {
                Wake();
                return;
            }
        }

        if (RunNext.IsKept(this))
        {
            RunNext.Release(); // a second message: the sender goes on producing, both should run at once
        }
    }

    /// <summary>
    /// Looks at the flag again after a full fence, so that either this look sees the end of the turn or
    /// the turn's last look sees the message just posted. A busy receiver costs its senders no write to
    /// the flag (a failed compare-exchange would pull the cell's cache line away from the running turn).
    /// </summary>
    private bool IsIdleAfterFence()
    {
        Interlocked.MemoryBarrier();
        return Volatile.Read(ref _scheduled) == 0;
    }

    public void SendSystem(SystemMessage message)
    {
        var head = Volatile.Read(ref _systemMessages);
        while (true)
        {
            message.Next = head;
            var seen = Interlocked.CompareExchange(ref _systemMessages, message, head);
            if (ReferenceEquals(seen, head))
            {
                break;
            }

            head = seen;
        }

        Schedule();
    }

    private void Schedule()
    {
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
        {
            Wake();
        }
    }

    /// <summary>This cell was just scheduled (the caller set the flag): run it after the current turn on this thread, if any, else queue it.</summary>
    private void Wake()
    {
        if (t_current is null)
        {
            QueueOnThreadPool();
        }
        else
        {
            RunNext.Keep(this);
        }
    }

    public void QueueOnThreadPool() => ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);

    // ---- one turn

    public void Execute() => RunNext.Run(this);

    /// <summary>One turn: system messages, then up to the throughput of user messages.</summary>
    public void RunTurn()
    {
        t_current = this;
        try
        {
            ProcessSystemMessages();
            var throughput = _system.Throughput;
            for (var i = 0; i < throughput; i++)
            {
                if (Volatile.Read(ref _systemMessages) is not null)
                {
                    ProcessSystemMessages();
                }

                if (!CanProcessUserMessages || !TryTakeUserMessage(out var envelope))
                {
                    break;
                }

                if (i > 0)
                {
                    RunNext.Release(); // woken by the previous message: it does not wait for this one
                }

                Invoke(envelope);
            }

            if (_state == CellState.Terminated)
            {
                DrainToDeadLetters();
            }
        }
        finally
        {
            t_current = null;
        }

        // A full fence, then a last look: a producer that saw the flag set before it was cleared
        // relies on this check to get its message handled.
        Interlocked.Exchange(ref _scheduled, 0);
        if (HasWork)
        {
            Schedule();
        }
    }

    private bool CanProcessUserMessages => _state == CellState.Running && !_failed && _pendingTasks == 0;

    private bool HasWork =>
        Volatile.Read(ref _systemMessages) is not null
        || (_state == CellState.Terminated && _mailbox.HasItems)
        || (CanProcessUserMessages && (_extras?.Unstashed?.Count > 0 || _mailbox.HasItems));

    private bool TryTakeUserMessage(out Envelope envelope)
    {
        var unstashed = _extras?.Unstashed;
        if (unstashed is { Count: > 0 })
        {
            envelope = unstashed.Dequeue();
            return true;
        }

        return _mailbox.TryDequeue(out envelope);
    }

    private void Invoke(Envelope envelope)
    {
        System.Diagnostics.Activity? activity = null;
        if (envelope.Message is TracedMessage traced)
        {
            activity = ActorTracing.StartReceive(traced, Self.Path);
            envelope = new Envelope(traced.Message, envelope.Sender);
        }

        _current = envelope;
        try
        {
            var message = envelope.Message;
            if (ReferenceEquals(message, PoisonPill.Instance) || (ReferenceEquals(message, GracefulStop.Instance) && _actor?.FinishesWorkBeforeStop != true))
            {
                Stop(Self);
                return;
            }

            if (message is TimerMessage timerMessage)
            {
                if (_extras?.Timers?.Accept(timerMessage) != true)
                {
                    return;
                }

                _current = new Envelope(timerMessage.Message, null);
                message = timerMessage.Message;
            }
            else if (message is ReceiveTimeoutTick tick)
            {
                if (_extras?.ReceiveTimeout is null || tick.Generation != _extras.ReceiveTimeoutGeneration)
                {
                    return;
                }

                _current = new Envelope(Actors.ReceiveTimeout.Instance, null);
                message = Actors.ReceiveTimeout.Instance;
            }

            if (message is Terminated terminated && _extras is { } watchState)
            {
                if (watchState.TerminatedCancelled?.Remove(terminated.Actor) == true)
                {
                    return; // unwatched after this Terminated was queued
                }

                watchState.TerminatedQueued?.Remove(terminated.Actor);
            }

            if (_extras is { ReceiveTimeout: not null } extras && message is not INotInfluenceReceiveTimeout)
            {
                RestartReceiveTimeout(extras);
            }

            var behaviors = _extras?.Behaviors;
            if (behaviors is { Count: > 0 })
            {
                behaviors[^1](message);
            }
            else
            {
                _actor!.InvokeReceive(message);
            }
        }
        catch (Exception exception)
        {
            HandleFailure(exception);
        }
        finally
        {
            _current = default;
            activity?.Stop();
        }
    }

    public void Unhandled(object message)
    {
        if (message is Terminated terminated)
        {
            throw new DeathPactException(terminated.Actor);
        }

        Log.Unhandled(_system.Logger, Self.Path, message.GetType().Name);
    }

    // ---- system messages

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

    // ---- lifecycle

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

    private void OnChildTerminated(ActorCell child)
    {
        var children = _extras?.Children;
        if (children is not null)
        {
            lock (children)
            {
                if (children.TryGetValue(child.Self.Path.Name, out var registered) && registered == child)
                {
                    children.Remove(child.Self.Path.Name);
                }
            }
        }

        if (_extras?.Watching?.Remove(child.Self) == true)
        {
            QueueTerminated(child.Self);
        }

        if (_state == CellState.Terminating && !HasChildren())
        {
            FinishTerminate();
        }
        else if (_state == CellState.Recreating && !HasStoppingChildren())
        {
            FinishRecreate();
        }
    }

    /// <summary>Delivers Terminated through the mailbox, so it arrives after what the dead actor sent before.</summary>
    private void QueueTerminated(IActorRef subject)
    {
        (EnsureExtras().TerminatedQueued ??= []).Add(subject);
        Self.Tell(new Terminated(subject), subject);
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

    private bool HasChildren()
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return false;
        }

        lock (children)
        {
            return children.Count > 0;
        }
    }

    private bool HasStoppingChildren()
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return false;
        }

        lock (children)
        {
            foreach (var child in children.Values)
            {
                if (child._stopRequested)
                {
                    return true;
                }
            }

            return false;
        }
    }

    // ---- IActorContext

    public IActorRef Spawn(Props props, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(props);
        var extras = EnsureExtras();
        var children = LazyInitializer.EnsureInitialized(ref extras.Children, static () => new(StringComparer.Ordinal));
        ActorCell child;
        lock (children)
        {
            if (_state >= CellState.Terminating)
            {
                throw new InvalidOperationException($"Cannot spawn a child of {Self.Path}: it is stopping.");
            }

            if (name is null)
            {
                name = ActorNames.Generate(extras.NextChildNumber++);
            }
            else
            {
                ActorNames.Validate(name, Self.Path);
            }

            if (children.ContainsKey(name))
            {
                throw new InvalidActorNameException($"An actor named '{name}' already exists under {Self.Path}.");
            }

            child = new ActorCell(_system, this, props, Self.Path.Child(name));
            children.Add(name, child);
        }

        child.SendSystem(new Create());
        return child.Self;
    }

    public IActorRef? Child(string name)
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return null;
        }

        lock (children)
        {
            return children.TryGetValue(name, out var child) && !child._stopRequested ? child.Self : null;
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

    public void SetReceiveTimeout(TimeSpan? timeout)
    {
        var extras = EnsureExtras();
        extras.ReceiveTimeout = timeout;
        extras.ReceiveTimeoutGeneration++;
        if (timeout is null)
        {
            extras.ReceiveTimeoutTimer?.Dispose();
            extras.ReceiveTimeoutTimer = null;
            return;
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout.Value, TimeSpan.Zero, nameof(timeout));
        RestartReceiveTimeout(extras);
    }

    private void RestartReceiveTimeout(Extras extras)
    {
        extras.ReceiveTimeoutGeneration++;
        if (extras.ReceiveTimeoutTimer is null)
        {
            extras.ReceiveTimeoutTimer = ActorTracing.CreateTimer(
                _system.TimeProvider,
                static state =>
                {
                    var cell = (ActorCell)state!;
                    var generation = Volatile.Read(ref cell._extras!.ReceiveTimeoutGeneration);
                    cell.Self.Tell(new ReceiveTimeoutTick(generation), null);
                },
                this,
                extras.ReceiveTimeout!.Value,
                Timeout.InfiniteTimeSpan);
        }
        else
        {
            extras.ReceiveTimeoutTimer.Change(extras.ReceiveTimeout!.Value, Timeout.InfiniteTimeSpan);
        }
    }

    // ---- async handlers

    public void RunTask(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (t_current != this)
        {
            throw new InvalidOperationException($"RunTask must be called from a message handler of {Self.Path}.");
        }

        var envelope = _current;
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(new ActorSynchronizationContext(this, envelope));
        Task task;
        try
        {
            task = work();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        if (task.IsCompleted)
        {
            if (task.IsFaulted || task.IsCanceled)
            {
                ExceptionDispatchInfo.Capture(task.Exception?.InnerException ?? new TaskCanceledException(task)).Throw();
            }

            return;
        }

        _pendingTasks++;
        task.ContinueWith(
            static (t, state) =>
            {
                var (cell, envelope) = ((ActorCell, Envelope))state!;
                cell.SendSystem(new TaskCompleted(t, envelope));
            },
            (this, envelope),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public void PostContinuation(SendOrPostCallback callback, object? state, Envelope envelope) =>
        SendSystem(new RunContinuation(callback, state, envelope));

    private void RunContinuationOnActor(RunContinuation continuation)
    {
        var saved = _current;
        _current = continuation.Envelope;
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(new ActorSynchronizationContext(this, continuation.Envelope));
        try
        {
            continuation.Callback(continuation.State);
        }
        catch (Exception exception)
        {
            HandleFailure(exception);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
            _current = saved;
        }
    }

    private void OnTaskCompleted(TaskCompleted completed)
    {
        _pendingTasks--;
        var task = completed.Task;
        if (task.IsFaulted || task.IsCanceled)
        {
            var saved = _current;
            _current = completed.Envelope;
            HandleFailure(task.Exception?.InnerException ?? new TaskCanceledException(task));
            _current = saved;
        }
    }

    // ---- stash support

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

    /// <summary>
    /// The extras, created on first use. Thread-safe: besides the actor's own turn, guardians are
    /// spawned into from any thread and a parent reads its failed child's restart record.
    /// </summary>
    private Extras EnsureExtras() =>
        Volatile.Read(ref _extras) ?? Interlocked.CompareExchange(ref _extras, new Extras(), null) ?? _extras!;

    /// <summary>State that most actors never need; allocated on first use to keep idle actors small.</summary>
    private sealed class Extras
    {
        public Dictionary<string, ActorCell>? Children;
        public long NextChildNumber;
        public HashSet<IInternalActorRef>? Watchers;
        public HashSet<IActorRef>? Watching;
        public HashSet<IActorRef>? TerminatedQueued;     // Terminated in the mailbox, not yet handled
        public HashSet<IActorRef>? TerminatedCancelled;  // ... of which these were unwatched since
        public List<Action<object>>? Behaviors;
        public TimerScheduler? Timers;
        public StashBuffer? Stash;
        public Queue<Envelope>? Unstashed;
        public ILogger? Logger;
        public TimeSpan? ReceiveTimeout;
        public int ReceiveTimeoutGeneration;
        public ITimer? ReceiveTimeoutTimer;
        public object? FailedMessage;

        public string? StopReason;
        public Exception? RecreateCause;
        public readonly ChildRestartRecord RestartRecord = new();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Actor {Path} failed while handling {MessageType}; supervisor decided {Directive}")]
        public static partial void ActorFailed(ILogger logger, Exception exception, ActorPath path, string messageType, Directive directive);

        [LoggerMessage(2, LogLevel.Error, "Actor {Path} threw in {Hook}")]
        public static partial void HookFailed(ILogger logger, Exception exception, ActorPath path, string hook);

        [LoggerMessage(3, LogLevel.Error, "Actor {Path} failed while stopping")]
        public static partial void FailedWhileStopping(ILogger logger, Exception exception, ActorPath path);

        [LoggerMessage(4, LogLevel.Error, "The supervisor strategy of {Path} threw; escalating")]
        public static partial void DeciderFailed(ILogger logger, Exception exception, ActorPath path);

        [LoggerMessage(5, LogLevel.Error, "Actor {Path} failed handling system message {MessageType}")]
        public static partial void SystemMessageFailed(ILogger logger, Exception exception, ActorPath path, string messageType);

        [LoggerMessage(6, LogLevel.Debug, "Actor {Path} did not handle {MessageType}")]
        public static partial void Unhandled(ILogger logger, ActorPath path, string messageType);
    }
}
