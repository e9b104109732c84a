using Recall.Persistence.Leases;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The contract of an <see cref="ILeaseStore"/>, as xunit tests: derive, create the store in
/// <c>CreateStore</c>, and every store passes the same tests. Expiry is on the store's own
/// clock, so the tests that wait for it use short leases and poll with generous timeouts.
/// </summary>
public abstract class LeaseStoreConformance : SharedStoreConformance<ILeaseStore>
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);

    /// <summary>A name no other test uses.</summary>
    protected string LeaseName { get; } = "lease-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>L1: the first acquisition gets token 1 and an expiry about the duration ahead.</summary>
    [Fact]
    public async Task L1_The_first_holder_gets_token_1()
    {
        var store = NewStore();
        var before = DateTimeOffset.UtcNow;

        var lease = await store.TryAcquireAsync(LeaseName, "node-a", Long, default);

        Assert.NotNull(lease);
        Assert.Equal((LeaseName, "node-a", 1L), (lease.Name, lease.Holder, lease.FencingToken));
        Assert.InRange(lease.ExpiresAt, before + Long - TimeSpan.FromMinutes(1), before + Long + TimeSpan.FromMinutes(1));
        Assert.Equal(lease, await store.ReadAsync(LeaseName, default));
    }

    /// <summary>L2: while held, another holder is refused and the holder acquires again with the same token.</summary>
    [Fact]
    public async Task L2_A_held_lease_is_refused_to_others_and_kept_by_its_holder()
    {
        var a = NewStore();
        var b = NewStore();
        var first = await a.TryAcquireAsync(LeaseName, "node-a", Long, default);

        Assert.Null(await b.TryAcquireAsync(LeaseName, "node-b", Long, default));
        var again = await a.TryAcquireAsync(LeaseName, "node-a", Long, default);
        Assert.Equal(first!.FencingToken, again!.FencingToken);
        Assert.Null(await b.RenewAsync(LeaseName, "node-b", first.FencingToken, Long, default));
        Assert.NotNull(await a.RenewAsync(LeaseName, "node-a", first.FencingToken, Long, default));
    }

    /// <summary>L3: once expired, another holder takes it with a higher token; the old holding can neither renew nor release.</summary>
    [Fact]
    public async Task L3_An_expired_lease_passes_to_another_holder_with_a_higher_token()
    {
        var a = NewStore();
        var b = NewStore();
        var first = await a.TryAcquireAsync(LeaseName, "node-a", Short, default);

        var second = await EventuallyAsync(() => b.TryAcquireAsync(LeaseName, "node-b", Long, default));

        Assert.Equal(first!.FencingToken + 1, second.FencingToken);
        Assert.Null(await a.RenewAsync(LeaseName, "node-a", first.FencingToken, Long, default));
        Assert.False(await a.ReleaseAsync(LeaseName, "node-a", first.FencingToken, default));
        Assert.Equal("node-b", (await a.ReadAsync(LeaseName, default))!.Holder);
    }

    /// <summary>L4: a released lease is free at once, and its next holder's token is higher still.</summary>
    [Fact]
    public async Task L4_A_released_lease_is_free_at_once_and_tokens_only_grow()
    {
        var a = NewStore();
        var b = NewStore();
        var first = await a.TryAcquireAsync(LeaseName, "node-a", Long, default);
        Assert.True(await a.ReleaseAsync(LeaseName, "node-a", first!.FencingToken, default));

        var second = await b.TryAcquireAsync(LeaseName, "node-b", Long, default);
        Assert.Equal(2, second!.FencingToken);
        Assert.True(await b.ReleaseAsync(LeaseName, "node-b", 2, default));
        var third = await a.TryAcquireAsync(LeaseName, "node-a", Long, default);
        Assert.Equal(3, third!.FencingToken);
    }

    /// <summary>L5: of many holders trying at once, exactly one gets the lease.</summary>
    [Fact]
    public async Task L5_Of_concurrent_acquirers_exactly_one_wins()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => NewStore()).ToList();

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            Task.Run(async () => await stores[i % stores.Count].TryAcquireAsync(LeaseName, $"node-{i}", Long, default))));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(1, winner!.FencingToken);
        Assert.Equal(winner.Holder, (await stores[0].ReadAsync(LeaseName, default))!.Holder);
    }

    /// <summary>L6: every lease is listed by name; an unknown name reads as null.</summary>
    [Fact]
    public async Task L6_Leases_are_listed_and_an_unknown_one_is_null()
    {
        var store = NewStore();
        await store.TryAcquireAsync(LeaseName + "-x", "node-a", Long, default);
        await store.TryAcquireAsync(LeaseName + "-y", "node-b", Long, default);

        var mine = (await store.ReadAllAsync(default)).Where(l => l.Name.StartsWith(LeaseName, StringComparison.Ordinal)).ToList();

        Assert.Equal([(LeaseName + "-x", "node-a"), (LeaseName + "-y", "node-b")], mine.Select(l => (l.Name, l.Holder)));
        Assert.Null(await store.ReadAsync(LeaseName + "-nothing", default));
    }

    private static async Task<LeaseRecord> EventuallyAsync(Func<ValueTask<LeaseRecord?>> attempt)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.Dilated(TimeSpan.FromSeconds(15));
        while (true)
        {
            if (await attempt() is { } record)
            {
                return record;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TestKitException("The expired lease was never given to another holder.");
            }

            await Task.Delay(50);
        }
    }
}
