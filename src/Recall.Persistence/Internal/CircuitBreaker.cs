namespace Recall.Persistence.Internal;

/// <summary>
/// Guards a store: after <c>maxFailures</c> consecutive failures it opens and calls fail fast;
/// after <c>resetTimeout</c> it lets one call probe the store (half-open); success closes it.
/// Used from the journal front's turn only, so it needs no locks.
/// </summary>
internal sealed class CircuitBreaker(int maxFailures, TimeSpan resetTimeout, TimeProvider time)
{
    private int _failures;
    private DateTimeOffset? _openedAt;
    private bool _probing;

    public bool IsOpen => _openedAt is not null;

    /// <summary>Whether a call may go to the store now; false means fail fast.</summary>
    public bool AllowCall()
    {
        if (_openedAt is not { } openedAt)
        {
            return true;
        }

        if (!_probing && time.GetUtcNow() - openedAt >= resetTimeout)
        {
            _probing = true;
            return true;
        }

        return false;
    }

    public void Succeeded()
    {
        _failures = 0;
        _openedAt = null;
        _probing = false;
    }

    public void Failed()
    {
        _failures++;
        if (_probing || _failures >= maxFailures)
        {
            _openedAt = time.GetUtcNow();
            _probing = false;
        }
    }

    public TimeSpan RemainingOpen => _openedAt is { } openedAt ? resetTimeout - (time.GetUtcNow() - openedAt) : TimeSpan.Zero;
}
