namespace Recall.Persistence.Membership;

/// <summary>
/// Members in this process, for nodes (actor systems) inside one test process: share one instance
/// between them. Its clock is the <see cref="TimeProvider"/> given (a fake one in tests).
/// </summary>
public sealed class InMemoryMembershipStore(TimeProvider? clock = null) : IMembershipStore
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly SortedDictionary<string, MemberRecord> _members = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public ValueTask<MemberRecord?> TryJoinAsync(string address, long incarnation, IReadOnlyList<string> roles, TimeSpan staleAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckRoles(address, roles);
        MembershipArguments.CheckPositive(staleAfter, nameof(staleAfter));
        lock (_members)
        {
            var now = _clock.GetUtcNow();
            var current = _members.GetValueOrDefault(address);
            MemberRecord joined;
            if (current is null || (current.Incarnation != incarnation && (!current.IsLive || current.HeartbeatAt < now - staleAfter)))
            {
                joined = new MemberRecord(address, incarnation, MemberStatus.Joining, [.. roles], now, now);
            }
            else if (current.Incarnation == incarnation && current.IsLive)
            {
                joined = current with { Roles = [.. roles], HeartbeatAt = now }; // a retried join keeps its state
            }
            else
            {
                return ValueTask.FromResult<MemberRecord?>(null);
            }

            _members[address] = joined;
            return ValueTask.FromResult<MemberRecord?>(joined);
        }
    }

    /// <inheritdoc />
    public ValueTask<MemberRecord?> HeartbeatAsync(string address, long incarnation, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        return Update(address, incarnation, m => m.IsLive, m => m with { HeartbeatAt = _clock.GetUtcNow() });
    }

    /// <inheritdoc />
    public ValueTask<MemberRecord?> SetStatusAsync(string address, long incarnation, MemberStatus status, CancellationToken cancellationToken)
    {
        MembershipArguments.Check(address, incarnation);
        MembershipArguments.CheckForward(address, status);
        return Update(address, incarnation, m => m.IsLive && m.Status < status, m => m with { Status = status });
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<MemberRecord>> DownUnresponsiveAsync(TimeSpan downAfter, CancellationToken cancellationToken)
    {
        MembershipArguments.CheckPositive(downAfter, nameof(downAfter));
        lock (_members)
        {
            var now = _clock.GetUtcNow();
            List<MemberRecord> downed = [];
            foreach (var member in _members.Values.Where(m => m.IsLive && m.HeartbeatAt < now - downAfter).ToList())
            {
                downed.Add(_members[member.Address] = member with { Status = MemberStatus.Down });
            }

            return ValueTask.FromResult<IReadOnlyList<MemberRecord>>(downed);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<MemberRecord>> ReadAllAsync(CancellationToken cancellationToken)
    {
        lock (_members)
        {
            return ValueTask.FromResult<IReadOnlyList<MemberRecord>>([.. _members.Values]);
        }
    }

    private ValueTask<MemberRecord?> Update(string address, long incarnation, Func<MemberRecord, bool> condition, Func<MemberRecord, MemberRecord> change)
    {
        lock (_members)
        {
            if (!_members.TryGetValue(address, out var current) || current.Incarnation != incarnation || !condition(current))
            {
                return ValueTask.FromResult<MemberRecord?>(null);
            }

            var changed = change(current);
            _members[address] = changed;
            return ValueTask.FromResult<MemberRecord?>(changed);
        }
    }
}
