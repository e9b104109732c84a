using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Semantics 8: a second live writer of a persistence id fails instead of interleaving.</summary>
public sealed class SingleWriterTests
{
    [Fact]
    public async Task A_second_writer_of_the_same_persistence_id_gets_a_persist_failure_and_the_history_is_not_interleaved()
    {
        await using var h = PersistenceHarness.Create();
        var (first, _) = await h.SpawnRecoveredAsync("sw-1", name: "first");
        var (second, _) = await h.SpawnRecoveredAsync("sw-1", name: "second");
        var watcher = new TestProbe(h.System);
        watcher.Watch(second);

        first.Tell(new Cmd("f1", Persist("from-first-1")));
        await h.Log.ExpectMsgAsync(new Received("f1"));
        await h.Log.ExpectMsgAsync(new Handled("from-first-1", 1));

        second.Tell(new Cmd("s1", Persist("from-second-1")));
        await h.Log.ExpectMsgAsync(new Received("s1"));
        var failed = await h.Log.ExpectMsgAsync<PersistFailed>();
        var conflict = Assert.IsType<SequenceConflictException>(failed.Cause);
        Assert.Equal(("sw-1", 1L), (conflict.PersistenceId, conflict.SequenceNumber));
        Assert.Equal(("from-second-1", 1L), (failed.Event, failed.SequenceNumber));
        await watcher.ExpectTerminatedAsync(second);

        first.Tell(new Cmd("f2", Persist("from-first-2")));
        await h.Log.ExpectMsgAsync(new Received("f2"));
        await h.Log.ExpectMsgAsync(new Handled("from-first-2", 2));

        var stored = await h.StoredAsync("sw-1");
        Assert.Equal(["from-first-1", "from-first-2"], stored.Select(r => r.Payload));
        Assert.Single(stored.Select(r => r.WriterId).Distinct());
    }
}
