using Microsoft.Extensions.Time.Testing;
using Recall.Persistence.Leases;

namespace Recall.Persistence.Tests;

/// <summary>A holder's <see cref="Lease"/>: renewed in the background, counted lost before the store could give it away.</summary>
public sealed class LeaseTests
{
    private static readonly LeaseOptions Options = new() { Duration = TimeSpan.FromSeconds(9) }; // renew every 3 s, lost 1.8 s early

    [Fact]
    public async Task A_held_lease_renews_itself_and_keeps_its_token()
    {
        var clock = new FakeTimeProvider();
        var store = new InMemoryLeaseStore(clock);
        await using var lease = new Lease(store, "singleton:ledger", "node-a", Options, clock);

        Assert.True(await lease.TryAcquireAsync());
        await AdvanceAsync(clock, TimeSpan.FromSeconds(60));

        Assert.True(lease.IsHeld);
        Assert.Equal(1, lease.FencingToken);
        Assert.False(lease.LostToken.IsCancellationRequested);
        Assert.True((await store.ReadAsync("singleton:ledger", default))!.ExpiresAt > clock.GetUtcNow());
        Assert.False(await new Lease(store, "singleton:ledger", "node-b", Options, clock).TryAcquireAsync());
    }

    [Fact]
    public async Task A_lease_the_store_no_longer_renews_is_lost_at_the_next_renewal()
    {
        var clock = new FakeTimeProvider();
        var store = new Refusing(new InMemoryLeaseStore(clock));
        await using var lease = new Lease(store, "singleton:ledger", "node-a", Options, clock);
        Assert.True(await lease.TryAcquireAsync());
        var lost = lease.LostToken;

        store.RefuseRenewals = true;
        await AdvanceAsync(clock, TimeSpan.FromSeconds(4));

        Assert.True(lost.IsCancellationRequested);
        Assert.False(lease.IsHeld);
        Assert.Null(lease.FencingToken);
    }

    [Fact]
    public async Task A_lease_whose_renewals_hang_is_lost_before_the_store_could_expire_it()
    {
        var clock = new FakeTimeProvider();
        var store = new Refusing(new InMemoryLeaseStore(clock));
        await using var lease = new Lease(store, "singleton:ledger", "node-a", Options, clock);
        Assert.True(await lease.TryAcquireAsync());
        var lost = lease.LostToken;

        store.HangRenewals = true;
        await AdvanceAsync(clock, TimeSpan.FromSeconds(7.3)); // the store would keep it until 9 s

        Assert.True(lost.IsCancellationRequested);
        Assert.False(lease.IsHeld);
        Assert.True((await store.ReadAsync("singleton:ledger", default))!.ExpiresAt > clock.GetUtcNow());
    }

    [Fact]
    public async Task An_acquisition_answered_after_the_holders_deadline_does_not_count_and_is_given_back()
    {
        var clock = new FakeTimeProvider();
        var inner = new InMemoryLeaseStore(clock);
        var store = new Slow(inner, clock, TimeSpan.FromSeconds(8)); // a 9 s lease counts for 7.2 s
        await using var lease = new Lease(store, "singleton:ledger", "node-a", Options, clock);

        Assert.False(await lease.TryAcquireAsync());

        Assert.False(lease.IsHeld);
        Assert.Null(lease.FencingToken);
        Assert.True(await new Lease(inner, "singleton:ledger", "node-b", Options, clock).TryAcquireAsync());
    }

    [Fact]
    public async Task A_released_lease_goes_to_the_next_holder_at_once_with_a_higher_token()
    {
        var clock = new FakeTimeProvider();
        var store = new InMemoryLeaseStore(clock);
        var first = new Lease(store, "singleton:ledger", "node-a", Options, clock);
        Assert.True(await first.TryAcquireAsync());
        var lost = first.LostToken;

        await first.ReleaseAsync();
        await using var second = new Lease(store, "singleton:ledger", "node-b", Options, clock);

        Assert.True(lost.IsCancellationRequested);
        Assert.True(await second.TryAcquireAsync());
        Assert.Equal(2, second.FencingToken);
    }

    private static async Task AdvanceAsync(FakeTimeProvider clock, TimeSpan by)
    {
        for (var step = TimeSpan.Zero; step < by; step += TimeSpan.FromMilliseconds(100))
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(2); // let the renewal loop run what came due
        }

        await Task.Delay(50);
    }

    /// <summary>A store whose acquisitions take <paramref name="delay"/> of the clock to answer.</summary>
    private sealed class Slow(ILeaseStore inner, FakeTimeProvider clock, TimeSpan delay) : ILeaseStore
    {
        public async ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
        {
            var record = await inner.TryAcquireAsync(name, holder, duration, cancellationToken);
            clock.Advance(delay);
            return record;
        }

        public ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken) => inner.RenewAsync(name, holder, fencingToken, duration, cancellationToken);

        public ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken) => inner.ReleaseAsync(name, holder, fencingToken, cancellationToken);

        public ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) => inner.ReadAsync(name, cancellationToken);

        public ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken) => inner.ReadAllAsync(cancellationToken);
    }

    /// <summary>A store that can stop renewing (refuse, or never answer, not even to cancellation).</summary>
    private sealed class Refusing(ILeaseStore inner) : ILeaseStore
    {
        public volatile bool RefuseRenewals;
        public volatile bool HangRenewals;

        public ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken) => inner.TryAcquireAsync(name, holder, duration, cancellationToken);

        public async ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken)
        {
            if (HangRenewals)
            {
                await Task.Delay(Timeout.Infinite, CancellationToken.None); // like a store call that ignores cancellation
            }

            return RefuseRenewals ? null : await inner.RenewAsync(name, holder, fencingToken, duration, cancellationToken);
        }

        public ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken) => inner.ReleaseAsync(name, holder, fencingToken, cancellationToken);

        public ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken) => inner.ReadAsync(name, cancellationToken);

        public ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken) => inner.ReadAllAsync(cancellationToken);
    }
}
