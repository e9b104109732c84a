namespace Recall.Actors;

/// <summary>Sends messages later, on the system's <see cref="TimeProvider"/>. Dispose the result to cancel.</summary>
public sealed class Scheduler
{
    private readonly TimeProvider _timeProvider;

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

    private ITimer Schedule(TimeSpan dueTime, TimeSpan period, IActorRef receiver, object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
        return _timeProvider.CreateTimer(
            static state =>
            {
                var (to, msg, from) = ((IActorRef, object, IActorRef?))state!;
                to.Tell(msg, from);
            },
            (receiver, message, sender),
            dueTime,
            period);
    }
}
