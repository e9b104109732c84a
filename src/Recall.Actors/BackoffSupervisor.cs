namespace Recall.Actors;

/// <summary>When a <see cref="BackoffSupervisor"/> starts its child again.</summary>
public enum BackoffTrigger
{
    /// <summary>Whenever the child stops, for any reason (a failure stops it). The mode for persistent actors, which stop when a write fails.</summary>
    OnStop,

    /// <summary>Only when the child failed; a child that stops on its own stops the supervisor too.</summary>
    OnFailure,
}

/// <summary>Settings of a <see cref="BackoffSupervisor"/>.</summary>
public sealed record BackoffOptions
{
    /// <summary>Creates settings for a child made from <paramref name="childProps"/> and named <paramref name="childName"/>.</summary>
    public BackoffOptions(Props childProps, string childName)
    {
        ArgumentNullException.ThrowIfNull(childProps);
        ArgumentException.ThrowIfNullOrEmpty(childName);
        ChildProps = childProps;
        ChildName = childName;
    }

    /// <summary>How to create the child.</summary>
    public Props ChildProps { get; }

    /// <summary>The child's name (the same on every start).</summary>
    public string ChildName { get; }

    /// <summary>The delay before the first restart. Default 200 ms.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay; delays double from <see cref="MinBackoff"/> up to this. Default 30 s.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Random extra delay, as a fraction of the delay (0.2 = up to 20 % more), so that many children do not restart in step. Default 0.2.</summary>
    public double RandomFactor { get; init; } = 0.2;

    /// <summary>After the child has run this long without stopping, the next delay is <see cref="MinBackoff"/> again. Default 10 s.</summary>
    public TimeSpan ResetBackoffAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Restarts allowed in a row before the supervisor gives up and stops; -1 for no limit (the default).</summary>
    public int MaxRestarts { get; init; } = -1;

    /// <summary>When to restart the child. Default <see cref="BackoffTrigger.OnStop"/>.</summary>
    public BackoffTrigger Trigger { get; init; } = BackoffTrigger.OnStop;

    /// <summary>The delay before restart number <paramref name="restartCount"/> (0-based), before jitter.</summary>
    public TimeSpan DelayFor(int restartCount)
    {
        var factor = Math.Pow(2, Math.Min(restartCount, 30));
        var ticks = Math.Min(MaxBackoff.Ticks, MinBackoff.Ticks * factor);
        return TimeSpan.FromTicks((long)ticks);
    }

    internal void Validate()
    {
        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff)
        {
            throw new ArgumentException($"BackoffOptions for '{ChildName}': MinBackoff ({MinBackoff}) must be positive and at most MaxBackoff ({MaxBackoff}).");
        }

        if (RandomFactor is < 0 or > 1)
        {
            throw new ArgumentException($"BackoffOptions for '{ChildName}': RandomFactor ({RandomFactor}) must be between 0 and 1.");
        }
    }
}

/// <summary>
/// Keeps one child alive: when it stops (or fails), starts it again after an exponentially
/// growing, randomly stretched delay, and forgets the failures once the child has run for a while.
/// Messages to the supervisor are forwarded to the child; while the child is down they become
/// dead letters. Ask it <see cref="GetCurrentChild"/> for the child's current ref.
/// </summary>
public sealed class BackoffSupervisor : Actor
{
    private readonly BackoffOptions _options;
    private IActorRef? _child;
    private int _restartCount;
    private int _incarnation;
    private bool _childFailed;

    private BackoffSupervisor(BackoffOptions options) => _options = options;

    /// <summary>Asks the supervisor for its child; the reply is <see cref="CurrentChild"/>.</summary>
    public sealed class GetCurrentChild
    {
        private GetCurrentChild()
        {
        }

        /// <summary>The one instance.</summary>
        public static GetCurrentChild Instance { get; } = new();
    }

    /// <summary>The reply to <see cref="GetCurrentChild"/>.</summary>
    /// <param name="Ref">The running child, or null while it is down.</param>
    /// <param name="RestartCount">Restarts since the last reset.</param>
    public sealed record CurrentChild(IActorRef? Ref, int RestartCount);

    /// <summary>Props of a supervisor with the given settings.</summary>
    public static Props Props(BackoffOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Actors.Props.Create(() => new BackoffSupervisor(options));
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy => new OneForOneStrategy(_ =>
    {
        _childFailed = true;
        return Directive.Stop;
    });

    /// <inheritdoc />
    protected override void PreStart() => StartChild();

    /// <inheritdoc />
    protected override void Receive(object message)
    {
        switch (message)
        {
            case Terminated terminated when terminated.Actor.Equals(_child):
                _child = null;
                OnChildStopped();
                break;
            case StartChildTick:
                StartChild();
                break;
            case ResetTick reset:
                if (reset.Incarnation == _incarnation && _child is not null)
                {
                    _restartCount = 0;
                }

                break;
            case GetCurrentChild:
                Sender.Tell(new CurrentChild(_child, _restartCount), Self);
                break;
            default:
                if (_child is not null)
                {
                    _child.Forward(message);
                }
                else
                {
                    Context.System.PublishDeadLetter(new DeadLetter(message, Sender, Self), $"its child '{_options.ChildName}' is down and starts again after a backoff");
                }

                break;
        }
    }

    private void OnChildStopped()
    {
        var failed = _childFailed;
        _childFailed = false;
        if (_options.Trigger == BackoffTrigger.OnFailure && !failed)
        {
            Context.Stop(Self);
            return;
        }

        if (_options.MaxRestarts >= 0 && _restartCount >= _options.MaxRestarts)
        {
            Context.Stop(Self);
            return;
        }

        var delay = _options.DelayFor(_restartCount);
#pragma warning disable CA5394 // jitter needs no cryptographic randomness
        var jitter = 1 + (Random.Shared.NextDouble() * _options.RandomFactor);
#pragma warning restore CA5394
        _restartCount++;
        Timers.StartSingleTimer(StartChildTick.Instance, StartChildTick.Instance, delay * jitter);
    }

    private void StartChild()
    {
        _incarnation++;
        _child = Context.Watch(Context.Spawn(_options.ChildProps, _options.ChildName));
        Timers.StartSingleTimer(typeof(ResetTick), new ResetTick(_incarnation), _options.ResetBackoffAfter);
    }

    private sealed class StartChildTick
    {
        public static StartChildTick Instance { get; } = new();
    }

    private sealed record ResetTick(int Incarnation);
}
