using Recall.Persistence.InMemory;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>The test kit's FailingJournal and FailingSnapshotStore themselves.</summary>
public sealed class FailingStoreTests
{
    private readonly InMemoryJournal _store = new(new EventSerialization());
    private readonly FailingJournal _journal;

    public FailingStoreTests() => _journal = new FailingJournal(_store);

    [Fact]
    public async Task RejectWrites_rejects_only_the_matching_atomic_writes_and_stores_the_rest_of_the_batch()
    {
        var fault = _journal.RejectWrites("x", times: 1);

        var results = await _journal.WriteAsync([Write("x", 1, "a"), Write("y", 1, "b"), Write("x", 2, "c")], CancellationToken.None);

        var rejection = Assert.IsType<InjectedFaultException>(results[0]);
        Assert.Equal((StoreOperation.Write, FaultKind.Reject, "x"), (rejection.Operation, rejection.Kind, rejection.PersistenceId));
        Assert.Null(results[1]);
        Assert.Null(results[2]);
        Assert.Equal(["c"], (await PersistenceHarness.ReadAllAsync(_store, "x")).Select(r => r.Payload));
        Assert.Equal(["b"], (await PersistenceHarness.ReadAllAsync(_store, "y")).Select(r => r.Payload));
        Assert.Equal(1, fault.Hits);
        Assert.False(fault.IsActive);
    }

    [Fact]
    public async Task FailWrites_fails_the_whole_call_for_the_next_N_matching_writes_and_stores_nothing_of_it()
    {
        var fault = _journal.FailWrites("x", times: 2);

        await Assert.ThrowsAsync<InjectedFaultException>(async () => await _journal.WriteAsync([Write("y", 1, "b"), Write("x", 1, "a")], CancellationToken.None));
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None));
        Assert.Equal([null], await _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None));

        Assert.Empty(await PersistenceHarness.ReadAllAsync(_store, "y"));
        Assert.Single(await PersistenceHarness.ReadAllAsync(_store, "x"));
        Assert.Equal((2, false), (fault.Hits, fault.IsActive));
        Assert.Equal(3, _journal.CallCount(StoreOperation.Write));
    }

    [Fact]
    public async Task A_stalled_write_waits_for_release_then_goes_on_through_the_other_faults()
    {
        var custom = new IOException("disk gone");
        _journal.StallWrites(times: 1);
        _journal.FailWrites(times: 1, exception: custom);

        var write = _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None).AsTask();
        await _journal.WaitForStalledAsync();
        Assert.False(write.IsCompleted);
        Assert.Equal(1, _journal.StalledCount);

        Assert.Equal(1, _journal.ReleaseStalled());
        Assert.Same(custom, await Assert.ThrowsAsync<IOException>(() => write));
        Assert.Equal(0, _journal.StalledCount);
    }

    [Fact]
    public async Task ReleaseStalled_releases_the_oldest_calls_first_and_at_most_max()
    {
        _journal.StallWrites();
        var first = _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None).AsTask();
        await _journal.WaitForStalledAsync(1);
        var second = _journal.WriteAsync([Write("y", 1, "b")], CancellationToken.None).AsTask();
        await _journal.WaitForStalledAsync(2);

        Assert.Equal(1, _journal.ReleaseStalled(1));
        await first;
        Assert.False(second.IsCompleted);
        Assert.Equal(1, _journal.ReleaseStalled());
        await second;
    }

    [Fact]
    public async Task A_cancelled_stalled_call_ends_cancelled_and_is_no_longer_stalled()
    {
        using var cancellation = new CancellationTokenSource();
        _journal.StallWrites();
        var write = _journal.WriteAsync([Write("x", 1, "a")], cancellation.Token).AsTask();
        await _journal.WaitForStalledAsync();

        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write);
        Assert.Equal(0, _journal.StalledCount);
        Assert.Empty(await PersistenceHarness.ReadAllAsync(_store, "x"));
    }

    [Fact]
    public async Task WaitForStalledAsync_times_out_with_a_clear_message()
    {
        var error = await Assert.ThrowsAsync<TestKitException>(() => _journal.WaitForStalledAsync(1, TimeSpan.FromMilliseconds(50)));
        Assert.Contains("failing journal", error.Message);
    }

    [Fact]
    public async Task Replay_faults_strike_after_the_given_number_of_events()
    {
        await _store.WriteAsync([Write("x", 1, "a"), Write("x", 2, "b"), Write("x", 3, "c")], CancellationToken.None);
        _journal.FailReplays("x", times: 1, afterEvents: 2);

        var read = new List<object>();
        await Assert.ThrowsAsync<InjectedFaultException>(async () =>
        {
            await foreach (var repr in _journal.ReplayAsync("x", 1, long.MaxValue, long.MaxValue, CancellationToken.None))
            {
                read.Add(repr.Payload);
            }
        });
        Assert.Equal(["a", "b"], read);
        Assert.Equal(3, (await PersistenceHarness.ReadAllAsync(_journal, "x")).Count); // used up

        _journal.StallReplays("x", times: 1, afterEvents: 1);
        read.Clear();
        var replay = Task.Run(async () =>
        {
            await foreach (var repr in _journal.ReplayAsync("x", 1, long.MaxValue, long.MaxValue, CancellationToken.None))
            {
                lock (read)
                {
                    read.Add(repr.Payload);
                }
            }
        });
        await _journal.WaitForStalledAsync();
        lock (read)
        {
            Assert.Equal(["a"], read);
        }

        _journal.ReleaseStalled();
        await replay;
        Assert.Equal(["a", "b", "c"], read);
        Assert.Equal(3, _journal.CallCount(StoreOperation.Replay));
    }

    [Fact]
    public async Task Faults_apply_in_the_order_added_and_can_be_removed_or_cleared()
    {
        var first = new InvalidOperationException("first");
        var second = new InvalidOperationException("second");
        var byId = _journal.RejectWrites("x", exception: first);
        _journal.RejectWrites(exception: second);

        Assert.Same(first, (await _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None))[0]);
        Assert.Same(second, (await _journal.WriteAsync([Write("y", 1, "a")], CancellationToken.None))[0]);
        byId.Remove();
        Assert.Same(second, (await _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None))[0]);
        Assert.Single(_journal.Faults);

        _journal.ClearFaults();
        Assert.Empty(_journal.Faults);
        Assert.Equal([null], await _journal.WriteAsync([Write("x", 1, "a")], CancellationToken.None));
    }

    [Fact]
    public async Task Counted_faults_are_exact_under_concurrent_calls()
    {
        var fault = _journal.FailWrites(times: 50);

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            try
            {
                await _journal.WriteAsync([Write($"c-{i}", 1, "a")], CancellationToken.None);
                return true;
            }
            catch (InjectedFaultException)
            {
                return false;
            }
        })));

        Assert.Equal(50, outcomes.Count(ok => !ok));
        Assert.Equal(50, fault.Hits);
        Assert.Equal(200, _journal.CallCount(StoreOperation.Write));
    }

    [Fact]
    public async Task Other_journal_calls_can_fail_or_stall_and_snapshot_operations_are_refused()
    {
        _journal.Fail(StoreOperation.ReadHighestSequenceNumber, "x", times: 1);
        _journal.Fail(StoreOperation.DeleteEvents, times: 1);

        await Assert.ThrowsAsync<InjectedFaultException>(async () => await _journal.ReadHighestSequenceNumberAsync("x", 0, CancellationToken.None));
        Assert.Equal(0, await _journal.ReadHighestSequenceNumberAsync("x", 0, CancellationToken.None));
        await Assert.ThrowsAsync<InjectedFaultException>(async () => await _journal.DeleteToAsync("x", 1, CancellationToken.None));
        Assert.Throws<ArgumentException>(() => _journal.Fail(StoreOperation.SaveSnapshot));
        Assert.Throws<ArgumentOutOfRangeException>(() => _journal.FailWrites(times: 0));
    }

    [Fact]
    public async Task A_recovery_that_cannot_read_the_highest_sequence_number_fails()
    {
        await using var h = PersistenceHarness.Create();
        h.Journal.Fail(StoreOperation.ReadHighestSequenceNumber, "fs-1", times: 1);

        var actor = h.Spawn("fs-1");
        var watcher = new TestProbe(h.System);
        watcher.Watch(actor);

        var failed = await h.Log.ExpectMsgAsync<RecoveryFailed>();
        Assert.IsType<InjectedFaultException>(Assert.IsType<RecoveryFailedException>(failed.Cause).InnerException);
        await watcher.ExpectTerminatedAsync(actor);
    }

    [Fact]
    public async Task An_ask_to_a_persistent_actor_whose_recovery_failed_fails_at_once_saying_so()
    {
        await using var h = PersistenceHarness.Create();
        h.Journal.Fail(StoreOperation.ReadHighestSequenceNumber, "fs-ask", times: 1);
        var actor = h.Spawn("fs-ask");
        var watcher = new TestProbe(h.System);
        watcher.Watch(actor);

        // Sent while it recovers (kept until recovery ends), then after it stopped: neither waits for the 60 s timeout.
        var during = actor.Ask<object>(new Cmd("during"), TimeSpan.FromSeconds(60));
        await watcher.ExpectTerminatedAsync(actor);
        var after = actor.Ask<object>(new Cmd("after"), TimeSpan.FromSeconds(60));

        foreach (var ask in new[] { during, after })
        {
            var error = await Assert.ThrowsAsync<AskFailedException>(() => ask.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.StartsWith("the message was not delivered: its recovery failed: ", error.Reason, StringComparison.Ordinal);
            Assert.Contains("fs-ask", error.Reason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_unreadable_snapshot_from_the_failing_store_is_skipped_only_when_snapshots_are_optional(bool optional)
    {
        await using var h = PersistenceHarness.Create(p => p.SnapshotIsOptional = optional);
        var (actor, _) = await h.SpawnRecoveredAsync("fs-2");
        actor.Tell(new Cmd("c", Persist("e1"), Persist("e2")));
        await h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 2);
        actor.Tell(new TakeSnapshot());
        await h.Log.ExpectMsgAsync<SaveSnapshotSuccess>();
        await h.StopAsync(actor);
        h.Snapshots!.MakeLoadsUnreadable("fs-2", times: 1);

        h.Spawn("fs-2");

        if (optional)
        {
            await h.Log.ExpectMsgAsync(new Replayed("e1", 1));
            await h.Log.ExpectMsgAsync(new Replayed("e2", 2));
            await h.Log.ExpectMsgAsync(new Recovered(2, "e1,e2"));
        }
        else
        {
            var cause = Assert.IsType<RecoveryFailedException>((await h.Log.ExpectMsgAsync<RecoveryFailed>()).Cause);
            Assert.Equal(2, cause.SequenceNumber);
            Assert.IsType<SnapshotLoadException>(cause.InnerException);
        }
    }

    [Fact]
    public async Task A_snapshot_store_that_fails_to_load_fails_recovery_even_when_snapshots_are_optional()
    {
        await using var h = PersistenceHarness.Create(p => p.SnapshotIsOptional = true);
        h.Snapshots!.FailLoads("fs-3", times: 1);

        h.Spawn("fs-3");

        var cause = Assert.IsType<RecoveryFailedException>((await h.Log.ExpectMsgAsync<RecoveryFailed>()).Cause);
        Assert.IsType<InjectedFaultException>(cause.InnerException);
        Assert.Equal(1, h.Snapshots.CallCount(StoreOperation.LoadSnapshot));
    }

    private static AtomicWrite Write(string persistenceId, long sequenceNumber, object payload) =>
        new(new PersistentRepr(persistenceId, sequenceNumber, payload));
}
