namespace Recall.Actors.Internal;

/// <summary>
/// The receive timeout: one timer restarted by every message that does not opt out, whose ticks carry a
/// generation so that a tick from before the last restart is dropped.
/// </summary>
internal sealed partial class ActorCell
{
    public TimeSpan? ReceiveTimeout => _extras?.ReceiveTimeout;

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
}
