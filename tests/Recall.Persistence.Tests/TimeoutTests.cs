using Microsoft.Extensions.Time.Testing;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Defences against a store that hangs: the recovery timeout and the journal call timeout, on a fake clock.</summary>
public sealed class TimeoutTests
{
    private static readonly TimeSpan s_long = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));

    [Theory]
    [InlineData(StoreOperation.Replay, 2L)]
    [InlineData(StoreOperation.ReadHighestSequenceNumber, 0L)]
    [InlineData(StoreOperation.LoadSnapshot, 0L)]
    public async Task A_store_call_that_hangs_during_recovery_fails_the_recovery_after_RecoveryEventTimeout(StoreOperation stalled, long failedAt)
    {
        var clock = new FakeTimeProvider();
        await using var h = PersistenceHarness.Create(clock: clock);
        var (actor, _) = await h.SpawnRecoveredAsync("t-1");
        actor.Tell(new Cmd("c", Persist("e1")));
        await h.Log.FishForMessageAsync<Handled>(_ => true);
        actor.Tell(new TakeSnapshot());
        await h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        actor.Tell(new Cmd("c", Persist("e2")));
        await h.Log.FishForMessageAsync<Handled>(_ => true);
        await h.StopAsync(actor);
        Task waitForStall;
        if (stalled == StoreOperation.LoadSnapshot)
        {
            h.Snapshots!.Stall(StoreOperation.LoadSnapshot, "t-1");
            waitForStall = h.Snapshots.WaitForStalledAsync();
        }
        else
        {
            h.Journal.Stall(stalled, "t-1");
            waitForStall = h.Journal.WaitForStalledAsync();
        }

        var recovering = h.Spawn("t-1");
        var watcher = new TestProbe(h.System);
        watcher.Watch(recovering);
        await waitForStall;

        var failed = await h.AdvanceUntilAsync(h.Log.FishForMessageAsync<RecoveryFailed>(_ => true, s_long), TimeSpan.FromSeconds(31));

        var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
        Assert.Equal("t-1", cause.PersistenceId);
        Assert.Equal(failedAt, cause.SequenceNumber);
        Assert.IsType<JournalTimeoutException>(cause.InnerException);
        await watcher.ExpectTerminatedAsync(recovering);
    }

    [Fact]
    public async Task A_write_that_never_completes_becomes_a_persist_failure_after_JournalCallTimeout_and_frees_the_journal_for_others()
    {
        var clock = new FakeTimeProvider();
        await using var h = PersistenceHarness.Create(clock: clock);
        var (stuck, _) = await h.SpawnRecoveredAsync("t-2");
        var watcher = new TestProbe(h.System);
        watcher.Watch(stuck);
        h.Journal.StallWrites("t-2");

        stuck.Tell(new Cmd("c1", Persist("e1")));
        await h.Log.ExpectMsgAsync(new Received("c1"));
        await h.Journal.WaitForStalledAsync();

        var failed = await h.AdvanceUntilAsync(h.Log.ExpectMsgAsync<PersistFailed>(timeout: s_long), TimeSpan.FromSeconds(11));

        Assert.IsType<JournalTimeoutException>(failed.Cause);
        Assert.Equal(("e1", 1L), (failed.Event, failed.SequenceNumber));
        await watcher.ExpectTerminatedAsync(stuck);

        var (other, _) = await h.SpawnRecoveredAsync("t-3");
        other.Tell(new Cmd("c2", Persist("x1")));
        await h.Log.ExpectMsgAsync(new Received("c2"));
        await h.Log.ExpectMsgAsync(new Handled("x1", 1));
    }

    [Fact]
    public async Task A_write_queued_behind_one_that_timed_out_for_the_same_id_fails_without_reaching_the_store()
    {
        // The timed-out write may still commit; a write of the same id must not run beside it.
        var clock = new FakeTimeProvider();
        await using var h = PersistenceHarness.Create(clock: clock);
        var (actor, _) = await h.SpawnRecoveredAsync("t-5");
        h.Journal.StallWrites("t-5", times: 1);

        actor.Tell(new Cmd("c1", PersistAsync("e1")));
        actor.Tell(new Cmd("c2", PersistAsync("e2")));
        await h.Journal.WaitForStalledAsync();
        await h.Log.ExpectMsgAsync(new Received("c1"));
        await h.Log.ExpectMsgAsync(new Received("c2"));

        var failed = await h.AdvanceUntilAsync(h.Log.FishForMessageAsync<PersistFailed>(_ => true, s_long), TimeSpan.FromSeconds(11));
        Assert.IsType<JournalTimeoutException>(failed.Cause);

        // The stalled write goes through after all; the one queued behind it never reached the store.
        h.Journal.ReleaseStalled();
        await Eventually.WaitUntilAsync(() => h.Recording.WriteCalls.Count > 0);
        var written = h.Recording.WriteCalls.SelectMany(call => call).SelectMany(write => write.Events).Select(e => e.Payload).ToList();
        Assert.Equal(["e1"], written);
        Assert.Equal([1L], (await h.StoredAsync("t-5")).Select(e => e.SequenceNumber));
    }

    [Fact]
    public async Task Without_the_clock_moving_a_hanging_write_is_still_pending()
    {
        // The counterpart of the test above: the timeout, not anything else, is what fails the write.
        var clock = new FakeTimeProvider();
        await using var h = PersistenceHarness.Create(clock: clock);
        var (actor, _) = await h.SpawnRecoveredAsync("t-4");
        h.Journal.StallWrites("t-4", times: 1);

        actor.Tell(new Cmd("c1", Persist("e1")));
        await h.Log.ExpectMsgAsync(new Received("c1"));
        await h.Journal.WaitForStalledAsync();
        clock.Advance(TimeSpan.FromSeconds(9));
        await h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));

        h.Journal.ReleaseStalled();
        await h.Log.ExpectMsgAsync(new Handled("e1", 1));
    }
}
