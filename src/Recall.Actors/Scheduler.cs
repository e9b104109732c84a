using System.Collections.Concurrent;

namespace Recall.Actors;

/// <summary>Sends messages later, on the system's <see cref="TimeProvider"/>. Dispose the result to cancel.</summary>
public sealed class Scheduler
{
    private readonly TimeProvider _timeProvider;

    // Keeps every pending tell reachable: a timer that nothing references may be collected before
    // it fires (FakeTimeProvider's timers are), and callers commonly drop the handle.
    private readonly ConcurrentDictionary<ScheduledTell, byte> _pending = new();

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
        _pending[scheduled] = 0;
        scheduled.Start(Internal.ActorTracing.CreateTimer(_timeProvider, static state => ((ScheduledTell)state!).Fire(), scheduled, dueTime, period));
        return scheduled;
    }

    private sealed class ScheduledTell(Scheduler owner, IActorRef receiver, object message, IActorRef? sender, bool once) : IDisposable
    {
        private ITimer? _timer;
        private int _disposed;

        public void Start(ITimer timer)
        {
            _timer = timer;
            if (Volatile.Read(ref _disposed) != 0)
            {
                timer.Dispose(); // disposed (or fired once) while the timer was being created
            }
        }

        public void Fire()
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }

            receiver.Tell(message, sender);
            if (once)
            {
                Dispose();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner._pending.TryRemove(this, out _);
                _timer?.Dispose();
            }
        }
    }
}
