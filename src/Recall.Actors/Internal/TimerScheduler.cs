namespace Recall.Actors.Internal;

/// <summary>
/// An actor's keyed timers on the system's <see cref="TimeProvider"/>. Each start gets a new
/// generation, and a message is delivered only if its timer is still the current one for its
/// key, so a cancelled or replaced timer never delivers, even if its message was already queued.
/// </summary>
internal sealed class TimerScheduler(ActorCell cell) : ITimerScheduler
{
    private readonly Dictionary<object, Entry> _timers = [];
    private int _generation;

    public void StartSingleTimer(object key, object message, TimeSpan delay) =>
        Start(key, message, delay, Timeout.InfiniteTimeSpan);

    public void StartPeriodicTimer(object key, object message, TimeSpan initialDelay, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        Start(key, message, initialDelay, interval);
    }

    public bool IsTimerActive(object key) => _timers.ContainsKey(key);

    public void Cancel(object key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_timers.Remove(key, out var entry))
        {
            entry.Timer.Dispose();
        }
    }

    public void CancelAll()
    {
        foreach (var entry in _timers.Values)
        {
            entry.Timer.Dispose();
        }

        _timers.Clear();
    }

    /// <summary>Whether a timer message is still current; a single timer ends with its delivery.</summary>
    public bool Accept(TimerMessage message)
    {
        if (!_timers.TryGetValue(message.Key, out var entry) || entry.Message != message)
        {
            return false;
        }

        if (!entry.Periodic)
        {
            _timers.Remove(message.Key);
            entry.Timer.Dispose();
        }

        return true;
    }

    private void Start(object key, object message, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
        Cancel(key);
        var timerMessage = new TimerMessage(key, ++_generation, message);
        var timer = ActorTracing.CreateTimer(
            cell.System.TimeProvider,
            static state =>
            {
                var (self, msg) = ((IActorRef, TimerMessage))state!;
                self.Tell(msg, null);
            },
            ((IActorRef)cell.Self, timerMessage),
            dueTime,
            period);
        _timers[key] = new Entry(timer, timerMessage, period != Timeout.InfiniteTimeSpan);
    }

    private sealed record Entry(ITimer Timer, TimerMessage Message, bool Periodic);
}
