namespace Recall.Persistence.Leases;

/// <summary>
/// Leases in this process, for nodes (actor systems) inside one test process: share one instance
/// between them. Its clock is the <see cref="TimeProvider"/> given (a fake one in tests).
/// </summary>
public sealed class InMemoryLeaseStore(TimeProvider? clock = null) : ILeaseStore
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Dictionary<string, LeaseRecord> _leases = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        LeaseArguments.Check(name, holder, duration);
        lock (_leases)
        {
            var now = _clock.GetUtcNow();
            if (_leases.TryGetValue(name, out var current) && current.Holder != holder && current.ExpiresAt >= now)
            {
                return ValueTask.FromResult<LeaseRecord?>(null);
            }

            var token = current is null ? 1 : current.Holder == holder ? current.FencingToken : current.FencingToken + 1;
            var acquired = new LeaseRecord(name, holder, token, now + duration);
            _leases[name] = acquired;
            return ValueTask.FromResult<LeaseRecord?>(acquired);
        }
    }

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken)
    {
        LeaseArguments.Check(name, holder, duration);
        lock (_leases)
        {
            var now = _clock.GetUtcNow();
            if (!_leases.TryGetValue(name, out var current) || current.Holder != holder || current.FencingToken != fencingToken || current.ExpiresAt < now)
            {
                return ValueTask.FromResult<LeaseRecord?>(null);
            }

            var renewed = current with { ExpiresAt = now + duration };
            _leases[name] = renewed;
            return ValueTask.FromResult<LeaseRecord?>(renewed);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            var now = _clock.GetUtcNow();
            if (!_leases.TryGetValue(name, out var current) || current.Holder != holder || current.FencingToken != fencingToken || current.ExpiresAt < now)
            {
                return ValueTask.FromResult(false);
            }

            _leases[name] = current with { ExpiresAt = now - TimeSpan.FromTicks(1) };
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            return ValueTask.FromResult(_leases.GetValueOrDefault(name));
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            return ValueTask.FromResult<IReadOnlyList<LeaseRecord>>([.. _leases.Values.OrderBy(l => l.Name, StringComparer.Ordinal)]);
        }
    }
}
