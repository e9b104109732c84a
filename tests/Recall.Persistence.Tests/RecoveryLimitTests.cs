namespace Recall.Persistence.Tests;

/// <summary>MaxConcurrentRecoveries: at most that many actors replay at once; the others wait their turn.</summary>
public sealed class RecoveryLimitTests
{
    [Fact]
    public async Task At_most_MaxConcurrentRecoveries_actors_replay_at_once_and_all_eventually_recover()
    {
        const int actors = 20, limit = 2;
        await using var h = PersistenceHarness.Create(p => p.MaxConcurrentRecoveries = limit);
        h.Journal.StallReplays();

        for (var i = 0; i < actors; i++)
        {
            h.Spawn($"rl-{i}");
        }

        var recovered = 0;
        while (recovered < actors)
        {
            var expected = Math.Min(limit, actors - recovered);
            await h.Journal.WaitForStalledAsync(expected);
            Assert.Equal(expected, h.Journal.ReleaseStalled());
            for (var i = 0; i < expected; i++)
            {
                await h.Log.ExpectMsgAsync(new Recovered(0, ""));
            }

            recovered += expected;
        }

        // Every replay stalls until the test releases it, so a recovery beyond the limit would have
        // been stalled beside the others at some moment: the most at once is the limit.
        Assert.Equal(actors, h.Journal.CallCount(StoreOperation.Replay));
        Assert.Equal(limit, h.Journal.MaxStalledCount);
        await h.Log.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task An_actor_stopped_during_its_replay_gives_its_recovery_permit_back()
    {
        await using var h = PersistenceHarness.Create(p => p.MaxConcurrentRecoveries = 1);
        h.Journal.StallReplays("rl-stuck");
        var stuck = h.Spawn("rl-stuck");
        await h.Journal.WaitForStalledAsync();

        await h.StopAsync(stuck);

        var (_, recovered) = await h.SpawnRecoveredAsync("rl-after");
        Assert.Equal(new Recovered(0, ""), recovered);
    }

    [Fact]
    public async Task An_actor_stopped_while_waiting_for_a_recovery_permit_does_not_hold_one()
    {
        await using var h = PersistenceHarness.Create(p => p.MaxConcurrentRecoveries = 1);
        h.Journal.StallReplays(times: 1);
        h.Spawn("rl-holder");
        await h.Journal.WaitForStalledAsync();
        var waiting = h.Spawn("rl-waiting");
        await h.StopAsync(waiting);

        h.Journal.ReleaseStalled();
        await h.Log.ExpectMsgAsync(new Recovered(0, ""));

        // The permit of the stopped actor is not lost: the next one recovers.
        var (_, recovered) = await h.SpawnRecoveredAsync("rl-next");
        Assert.Equal(new Recovered(0, ""), recovered);
    }
}
