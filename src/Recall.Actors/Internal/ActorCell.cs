using System.Runtime.CompilerServices;
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
/// <para>
/// The message path (<see cref="LocalActorRef.Tell"/>, <see cref="Post"/>, the mailbox, the turn,
/// <see cref="Invoke"/>, <see cref="RunNext.Run"/>) is compiled fully optimized on first call
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>): left to tiered compilation it ran as
/// unoptimized code for the first second or so of a process, at a third of its later speed.
/// </para>
/// <para>
/// This file holds the fields, construction, sending and the turn; the other parts are named after
/// what they hold: SystemMessages, Lifecycle, Faults, Children, DeathWatch, ReceiveTimeout, Async
/// and Behaviors.
/// </para>
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

    public ITimerScheduler Timers => EnsureExtras().Timers ??= new TimerScheduler(this);

    public ILogger Logger => EnsureExtras().Logger ??= _system.LoggerFactory.CreateLogger(_actor?.GetType() ?? typeof(Actor));

    // ---- read from other threads, by metrics and graceful shutdown (never on the message path)

    /// <summary>About how many user messages wait in the mailbox; see <see cref="MpscQueue{T}.ApproximateCount"/>.</summary>
    public int MailboxDepth => _mailbox.ApproximateCount;

    /// <summary>Whether a user message waits in the mailbox; exact when asked by the cell's own actor during its turn.</summary>
    public bool HasUserMessageWaiting => _mailbox.HasItems;

    /// <summary>Async handlers (<see cref="RunTask"/>) in flight.</summary>
    public int PendingTaskCount => Volatile.Read(ref _pendingTasks);

    /// <summary>The current actor instance, or null between incarnations and after the actor stopped.</summary>
    public Actor? Instance => Volatile.Read(ref _actor);

    // ---- sending

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
