using Recall.Persistence.Membership;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The contract of an <see cref="IMembershipStore"/>, as xunit tests: derive, create the store in
/// <c>CreateStore</c>, and every store passes the same tests. Silence is measured on the
/// store's own clock, so the tests that wait for it use short limits and poll with generous timeouts.
/// </summary>
public abstract class MembershipStoreConformance : SharedStoreConformance<IMembershipStore>
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Silence = TimeSpan.FromSeconds(2);
    private readonly string _prefix = "recall://m" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>M1: a node joins as Joining with its roles, moves forward only, and is listed.</summary>
    [Fact]
    public async Task M1_A_node_joins_and_moves_forward_only()
    {
        var store = NewStore();
        var a = Address("a");

        var joined = await store.TryJoinAsync(a, 11, ["web", "ledger"], Long, default);

        Assert.NotNull(joined);
        Assert.Equal((a, 11L, MemberStatus.Joining), (joined.Address, joined.Incarnation, joined.Status));
        Assert.Equal(["web", "ledger"], joined.Roles);
        Assert.Equal(MemberStatus.Up, (await store.SetStatusAsync(a, 11, MemberStatus.Up, default))!.Status);
        Assert.Null(await store.SetStatusAsync(a, 11, MemberStatus.Up, default));
        Assert.Equal(MemberStatus.Leaving, (await store.SetStatusAsync(a, 11, MemberStatus.Leaving, default))!.Status);
        Assert.Null(await store.SetStatusAsync(a, 12, MemberStatus.Exiting, default)); // another incarnation
        var listed = Assert.Single(await MineAsync(store));
        Assert.Equal((a, 11L, MemberStatus.Leaving), (listed.Address, listed.Incarnation, listed.Status));
        Assert.Equal(["web", "ledger"], listed.Roles);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.SetStatusAsync(a, 11, MemberStatus.Down, default));
    }

    /// <summary>M2: a heartbeat moves the member's time forward; a removed member's heartbeat is refused.</summary>
    [Fact]
    public async Task M2_Heartbeats_renew_a_live_member_only()
    {
        var store = NewStore();
        var a = Address("a");
        var joined = await store.TryJoinAsync(a, 1, [], Long, default);
        await Task.Delay(20);

        var beat = await store.HeartbeatAsync(a, 1, default);

        Assert.True(beat!.HeartbeatAt > joined!.HeartbeatAt);
        Assert.Equal(joined.JoinedAt, beat.JoinedAt);
        Assert.Null(await store.HeartbeatAsync(a, 2, default));
        await store.SetStatusAsync(a, 1, MemberStatus.Removed, default);
        Assert.Null(await store.HeartbeatAsync(a, 1, default));
        Assert.Null(await store.SetStatusAsync(a, 1, MemberStatus.Removed, default));
    }

    /// <summary>M3: while a member is live and renewing, another incarnation cannot take its address; the same incarnation joining again keeps its state.</summary>
    [Fact]
    public async Task M3_A_live_address_is_refused_to_another_incarnation()
    {
        var first = NewStore();
        var second = NewStore();
        var a = Address("a");
        await first.TryJoinAsync(a, 1, [], Long, default);
        await first.SetStatusAsync(a, 1, MemberStatus.Up, default);

        Assert.Null(await second.TryJoinAsync(a, 2, [], Long, default));
        var again = await first.TryJoinAsync(a, 1, [], Long, default);
        Assert.Equal(MemberStatus.Up, again!.Status);
        Assert.Equal(1, Assert.Single(await MineAsync(first)).Incarnation);
    }

    /// <summary>M4: a silent member is marked Down once (by whichever node asks first), and stays out: no heartbeat, no way back.</summary>
    [Fact]
    public async Task M4_A_silent_member_is_marked_down_once()
    {
        var a = NewStore();
        var b = NewStore();
        var silent = Address("silent");
        var alive = Address("alive");
        await a.TryJoinAsync(silent, 1, [], Long, default);
        await b.TryJoinAsync(alive, 2, [], Long, default);

        await Task.Delay(Silence + TimeSpan.FromMilliseconds(500));
        await b.HeartbeatAsync(alive, 2, default);

        // A limit far above the time between the heartbeat and the check: a store that stalls for a moment must not down the live member.
        var downed = (await b.DownUnresponsiveAsync(Silence, default)).Where(m => m.Address.StartsWith(_prefix, StringComparison.Ordinal)).ToList();

        var down = Assert.Single(downed);
        Assert.Equal((silent, MemberStatus.Down), (down.Address, down.Status));
        Assert.DoesNotContain(await a.DownUnresponsiveAsync(Silence, default), m => m.Address == silent);
        Assert.Null(await a.HeartbeatAsync(silent, 1, default));
        Assert.Null(await a.SetStatusAsync(silent, 1, MemberStatus.Up, default));
        Assert.Null(await a.TryJoinAsync(silent, 1, [], Long, default)); // a downed incarnation never comes back
    }

    /// <summary>M5: a new incarnation takes the address of a member that was removed, marked down, or went silent, as Joining.</summary>
    [Fact]
    public async Task M5_A_new_incarnation_takes_over_a_gone_or_silent_address()
    {
        var store = NewStore();
        var removed = Address("removed");
        var silent = Address("silent");
        await store.TryJoinAsync(removed, 1, [], Long, default);
        await store.SetStatusAsync(removed, 1, MemberStatus.Removed, default);
        await store.TryJoinAsync(silent, 1, [], Long, default);
        await store.SetStatusAsync(silent, 1, MemberStatus.Up, default);

        var replaced = await store.TryJoinAsync(removed, 2, ["x"], Long, default);
        var takenOver = await EventuallyAsync(async () => await store.TryJoinAsync(silent, 2, [], Short, default), r => r is not null, "replaced");

        Assert.Equal((2L, MemberStatus.Joining), (replaced!.Incarnation, replaced.Status));
        Assert.Equal(["x"], replaced.Roles);
        Assert.Equal((2L, MemberStatus.Joining), (takenOver!.Incarnation, takenOver.Status));
        Assert.Null(await store.HeartbeatAsync(silent, 1, default)); // the old one learns it is out
    }

    /// <summary>M6: of many incarnations joining at one address at once, exactly one gets it.</summary>
    [Fact]
    public async Task M6_Of_concurrent_joiners_at_one_address_exactly_one_wins()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => NewStore()).ToList();
        var a = Address("contended");

        var results = await Task.WhenAll(Enumerable.Range(1, 12).Select(i =>
            Task.Run(async () => await stores[i % stores.Count].TryJoinAsync(a, i, [], Long, default))));

        var winner = Assert.Single(results, r => r is not null);
        Assert.Equal(winner!.Incarnation, Assert.Single(await MineAsync(stores[0])).Incarnation);
    }

    /// <summary>M7: bad arguments are refused with errors that name the member.</summary>
    [Fact]
    public async Task M7_Bad_arguments_are_refused_naming_the_member()
    {
        var store = NewStore();
        var a = Address("a");

        var comma = await Assert.ThrowsAsync<ArgumentException>(async () => await store.TryJoinAsync(a, 1, ["a,b"], Long, default));
        var zero = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.HeartbeatAsync(a, 0, default));

        Assert.Contains(a, comma.Message, StringComparison.Ordinal);
        Assert.Contains(a, zero.Message, StringComparison.Ordinal);
        Assert.Empty(await MineAsync(store));
    }

    private string Address(string name) => $"{_prefix}-{name}@127.0.0.1:1";

    private async Task<List<MemberRecord>> MineAsync(IMembershipStore store) =>
        [.. (await store.ReadAllAsync(default)).Where(m => m.Address.StartsWith(_prefix, StringComparison.Ordinal))];

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> attempt, Func<T, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.Dilated(TimeSpan.FromSeconds(15));
        while (true)
        {
            var result = await attempt();
            if (done(result))
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TestKitException($"The silent member was never {what}.");
            }

            await Task.Delay(50);
        }
    }
}
