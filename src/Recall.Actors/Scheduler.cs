namespace Recall.Actors;

/// <summary>Sends messages later, on the system's <see cref="TimeProvider"/>. Dispose the result to cancel.</summary>
public sealed class Scheduler
{
    private readonly TimeProvider _timeProvider;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ScheduledTell, byte> _active = new();

    internal Scheduler(TimeProvider timeProvider) => _timeProvider = timeProvider;

    /// <summary>Sends <paramref name="message"/> to <paramref name="receiver"/> once, after <paramref name="delay"/>.</summary>
    public IDisposable ScheduleTellOnce(TimeSpan delay, IActorRef receiver, object message, IActorRef? sender = null) =>
        Schedule(delay, Timeout.InfiniteTimeSpan, receiver, message, sender);

    /// <summary>Sends <paramref name="message"/> to <paramref name="receiver"/> every <paramref name="interval"/>, first after <paramref name="initialDelay"/>.</summary>
    public IDisposable ScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, IActorRef receiver, object message, IActorRef? sender = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return Schedule(initialDelay, interval, receiver, message, sender);
    }

    private ScheduledTell Schedule(TimeSpan dueTime, TimeSpan period, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
        var scheduled = new ScheduledTell(this, receiver, message, sender, once: period == Timeout.InfiniteTimeSpan);

        // Keep the timer reachable until it is done: a timer nobody references may be collected
        // (and so cancelled) before it fires.
        _active.TryAdd(scheduled, 0);
        scheduled.Start(_timeProvider, dueTime, period);
        return scheduled;
    }

    /// <summary>One scheduled tell; disposing it cancels what has not been sent yet.</summary>
    private sealed class ScheduledTell(Scheduler owner, IActorRef receiver, object message, IActorRef? sender, bool once) : IDisposable
    {
        private ITimer? _timer;

        public void Start(TimeProvider time, TimeSpan dueTime, TimeSpan period)
        {
            var timer = time.CreateTimer(static state => ((ScheduledTell)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            Volatile.Write(ref _timer, timer);
            timer.Change(dueTime, period);
        }

        public void Dispose()
        {
            owner._active.TryRemove(this, out _);
            Interlocked.Exchange(ref _timer, null)?.Dispose();
        }

        private void Fire()
        {
            receiver.Tell(message, sender);
            if (once)
            {
                Dispose();
            }
        }
    }
}
