namespace Recall.Persistence.Tests;

/// <summary>The replay filter on a history that two writers interleaved: 1–3 by A, 4–5 by B, 6 by A again.</summary>
public sealed class ReplayFilterTests
{
    [Theory]
    [InlineData(ReplayFilterMode.RepairByDiscardOld, "a1,a2,a3,b4,b5")]
    [InlineData(ReplayFilterMode.Warn, "a1,a2,a3,b4,b5,a6")]
    [InlineData(ReplayFilterMode.Off, "a1,a2,a3,b4,b5,a6")]
    public async Task The_replay_filter_mode_decides_what_is_replayed(ReplayFilterMode mode, string replayed)
    {
        await using var h = PersistenceHarness.Create(p => p.ReplayFilter = mode);
        await WriteInterleavedHistoryAsync(h.Persistence.Journal, "rf-1");

        h.Spawn("rf-1");

        foreach (var e in replayed.Split(','))
        {
            await h.Log.ExpectMsgAsync(new Replayed(e, long.Parse(e[1..], System.Globalization.CultureInfo.InvariantCulture)));
        }

        await h.Log.ExpectMsgAsync(new Recovered(6, replayed)); // new events continue after the highest, even a discarded one
    }

    [Fact]
    public async Task In_Fail_mode_an_interleaved_history_fails_recovery_at_the_offending_event()
    {
        await using var h = PersistenceHarness.Create(p => p.ReplayFilter = ReplayFilterMode.Fail);
        await WriteInterleavedHistoryAsync(h.Persistence.Journal, "rf-2");

        var recovering = h.Spawn("rf-2");
        var watcher = new TestProbe(h.System);
        watcher.Watch(recovering);

        var failed = await h.Log.FishForMessageAsync<RecoveryFailed>(_ => true);
        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal(("rf-2", 6L, "string"), (cause.PersistenceId, cause.SequenceNumber, cause.Manifest));
        Assert.Contains("old writer A", cause.Message);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    private static async Task WriteInterleavedHistoryAsync(IJournal journal, string persistenceId)
    {
        var history = new[] { ("a1", "A"), ("a2", "A"), ("a3", "A"), ("b4", "B"), ("b5", "B"), ("a6", "A") };
        var writes = history.Select((e, i) => new AtomicWrite(new PersistentRepr(persistenceId, i + 1, e.Item1) { WriterId = e.Item2 })).ToArray();
        var results = await journal.WriteAsync(writes, CancellationToken.None);
        Assert.All(results, Assert.Null);
    }
}
