using Recall.Persistence.InMemory;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>The journal front gathers the writes of many actors while one batch is in flight (group commit).</summary>
public sealed class JournalFrontTests
{
    [Fact]
    public async Task Many_actors_persisting_concurrently_share_write_calls_and_each_keeps_its_order()
    {
        const int actors = 20, perActor = 5;
        await using var h = PersistenceHarness.Create();
        var senders = new TestProbe[actors];
        var refs = new IActorRef[actors];
        for (var i = 0; i < actors; i++)
        {
            (refs[i], _) = await h.SpawnRecoveredAsync($"jf-{i}");
            senders[i] = new TestProbe(h.System);
        }

        // Hold the first write so that the others gather behind it, as they do behind a slow fsync.
        h.Journal.StallWrites(times: 1);
        for (var k = 0; k < perActor; k++)
        {
            for (var i = 0; i < actors; i++)
            {
                refs[i].Tell(new Cmd($"jf-{i}/{k}", PersistAsync($"jf-{i}/{k}")), senders[i].Ref);
            }
        }

        await h.Journal.WaitForStalledAsync();
        for (var n = 0; n < actors * perActor; n++)
        {
            await h.Log.ExpectMsgAsync<Received>();
        }

        h.Journal.ReleaseStalled();
        for (var i = 0; i < actors; i++)
        {
            for (var k = 0; k < perActor; k++)
            {
                await senders[i].ExpectMsgAsync(new Ack($"jf-{i}/{k}")); // handlers in order, with the command's sender
            }
        }

        var calls = h.Recording.WriteCalls;
        Assert.True(calls.Count < actors * perActor, $"{calls.Count} write calls for {actors * perActor} events");
        Assert.Contains(calls, call => call.Select(w => w.PersistenceId).Distinct().Count() > 1);
        for (var i = 0; i < actors; i++)
        {
            var stored = await h.StoredAsync($"jf-{i}");
            Assert.Equal(Enumerable.Range(1, perActor).Select(s => (long)s), stored.Select(r => r.SequenceNumber));
            Assert.Equal(Enumerable.Range(0, perActor).Select(k => $"jf-{i}/{k}"), stored.Select(r => (string)r.Payload));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_batch_holds_at_most_MaxBatchSize_events(int eventsPerCommand)
    {
        await using var h = PersistenceHarness.Create(p => p.MaxBatchSize = 3);
        var (actor, _) = await h.SpawnRecoveredAsync("jf-batch");
        h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c0", PersistAllAsync("e0")));
        await h.Journal.WaitForStalledAsync();
        var expected = new List<object> { "e0" };
        for (var k = 1; k <= 6; k++)
        {
            var events = Enumerable.Range(0, eventsPerCommand).Select(j => (object)$"e{k}.{j}").ToArray();
            expected.AddRange(events);
            actor.Tell(new Cmd($"c{k}", PersistAllAsync(events)));
        }

        for (var k = 0; k <= 6; k++)
        {
            await h.Log.ExpectMsgAsync(new Received($"c{k}"));
        }

        h.Journal.ReleaseStalled();
        await h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == expected.Count);
        Assert.All(h.Recording.WriteCalls, call => Assert.InRange(call.Sum(w => w.Events.Count), 1, 3));
        Assert.Equal(expected, (await h.StoredAsync("jf-batch")).Select(r => r.Payload));
    }
    [Fact]
    public async Task With_two_concurrent_writes_another_id_is_written_while_a_batch_is_in_the_store_and_an_id_never_overlaps_itself()
    {
        // MaxBatchSize 1: the actor's second event goes to the front while its first is still in the store.
        await using var h = PersistenceHarness.Create(p =>
        {
            p.MaxConcurrentWrites = 2;
            p.MaxBatchSize = 1;
        });
        var (a, _) = await h.SpawnRecoveredAsync("jf-a");
        var (b, _) = await h.SpawnRecoveredAsync("jf-b");
        h.Journal.StallWrites(times: 1);

        a.Tell(new Cmd("a1", PersistAsync("a1")));
        await h.Journal.WaitForStalledAsync();
        a.Tell(new Cmd("a2", PersistAsync("a2")));
        await h.Log.ExpectMsgAsync(new Received("a1"));
        await h.Log.ExpectMsgAsync(new Received("a2"));
        b.Tell(new Cmd("b1", PersistAsync("b1")));
        await h.Log.ExpectMsgAsync(new Received("b1"));

        // b's write went to the store beside a's stalled one; a's second waits for its first.
        await h.Log.ExpectMsgAsync(new Handled("b1", 1));
        Assert.Single(await h.StoredAsync("jf-b"));
        Assert.DoesNotContain(h.Recording.WriteCalls, call => call.Any(w => w.Events.Any(e => Equals(e.Payload, "a2"))));

        h.Journal.ReleaseStalled();
        await h.Log.ExpectMsgAsync(new Handled("a1", 1));
        await h.Log.ExpectMsgAsync(new Handled("a2", 2));
        Assert.Equal(["a1", "a2"], (await h.StoredAsync("jf-a")).Select(r => (string)r.Payload));
    }

    [Fact]
    public async Task Beside_a_batch_in_the_store_the_next_goes_out_once_it_is_as_large_not_in_fragments()
    {
        await using var h = PersistenceHarness.Create(p => p.MaxConcurrentWrites = 2);
        var (a, _) = await h.SpawnRecoveredAsync("jf-a");
        var others = new[] { "jf-b", "jf-c", "jf-d" };
        var refs = new List<IActorRef>();
        foreach (var id in others)
        {
            refs.Add((await h.SpawnRecoveredAsync(id)).Item1);
        }

        // A batch of three events is held in the store; three single events of other ids follow.
        h.Journal.StallWrites(times: 1);
        a.Tell(new Cmd("a", PersistAllAsync("a1", "a2", "a3")));
        await h.Journal.WaitForStalledAsync();
        for (var i = 0; i < refs.Count; i++)
        {
            refs[i].Tell(new Cmd(others[i], PersistAsync(others[i])));
        }

        // They go out together beside the held batch, once they are as many events as it holds.
        var handled = new HashSet<object>();
        while (handled.Count < others.Length)
        {
            handled.Add((await h.Log.FishForMessageAsync<Handled>(m => others.Contains(m.Event))).Event);
        }

        var call = Assert.Single(h.Recording.WriteCalls, c => c.Any(w => others.Contains(w.PersistenceId)));
        Assert.Equal(others, call.Select(w => w.PersistenceId).Order());
        Assert.Empty(await h.StoredAsync("jf-a"));

        h.Journal.ReleaseStalled();
        await h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 3);
        Assert.Equal(["a1", "a2", "a3"], (await h.StoredAsync("jf-a")).Select(r => (string)r.Payload));
    }

    [Fact]
    public async Task Requests_waiting_in_the_fronts_mailbox_go_to_a_store_that_completes_at_once_as_one_call()
    {
        HoldingStore? store = null;
        await using var h = PersistenceHarness.Create(store: s => store = new HoldingStore(new InMemoryJournal(s)));
        var (a, _) = await h.SpawnRecoveredAsync("jf-a");
        var others = new[] { "jf-b", "jf-c", "jf-d" };
        var refs = new List<IActorRef>();
        foreach (var id in others)
        {
            refs.Add((await h.SpawnRecoveredAsync(id)).Item1);
        }

        // The front's turn is held inside the store's synchronous write of a's event.
        store!.HoldNextWrite();
        a.Tell(new Cmd("a", PersistAsync("a")));
        await store.Held.WaitAsync(TimeSpan.FromSeconds(30));
        for (var i = 0; i < refs.Count; i++)
        {
            // The note is received after the command's turn sent its request: then it waits in the front's mailbox.
            refs[i].Tell(new Cmd(others[i], PersistAsync(others[i])));
            refs[i].Tell(new Cmd($"{others[i]}-sent", Note("sent")));
            await h.Log.FishForMessageAsync<Received>(m => m.Command == $"{others[i]}-sent");
        }

        store.Release();
        var handled = new HashSet<object>();
        while (handled.Count < others.Length)
        {
            handled.Add((await h.Log.FishForMessageAsync<Handled>(m => others.Contains(m.Event))).Event);
        }

        // Each request alone would have been a call of its own: the store never had one in flight.
        var call = Assert.Single(h.Recording.WriteCalls, c => c.Any(w => others.Contains(w.PersistenceId)));
        Assert.Equal(others, call.Select(w => w.PersistenceId).Order());
        Assert.Equal(2, h.Recording.WriteCalls.Count);
    }

    [Fact]
    public void One_batch_is_in_the_store_at_a_time_by_default_a_setting_wins_and_zero_is_refused()
    {
        Assert.Equal(1, new PersistenceOptions().UseInMemory().MaxConcurrentWrites);
        var chosen = new PersistenceOptions { MaxConcurrentWrites = 3 }.UseInMemory();
        Assert.Equal(3, chosen.MaxConcurrentWrites);
        Assert.Throws<ArgumentOutOfRangeException>(() => PersistenceHarness.Create(p => p.MaxConcurrentWrites = 0));
    }
}

/// <summary>A store that completes at once, whose next write can be held on the caller's thread (the front's turn) until released.</summary>
internal sealed class HoldingStore(IJournal inner) : IJournal
{
    private readonly ManualResetEventSlim _release = new(initialState: true);
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _holdNext;

    /// <summary>Completes when a write is being held.</summary>
    public Task Held => _held.Task;

    public void HoldNextWrite()
    {
        _release.Reset();
        Volatile.Write(ref _holdNext, 1);
    }

    public void Release() => _release.Set();

    public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _holdNext, 0) == 1)
        {
            _held.TrySetResult();
            _release.Wait(TimeSpan.FromSeconds(60), cancellationToken);
        }

        return inner.WriteAsync(writes, cancellationToken);
    }

    public IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken) =>
        inner.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);

    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken) =>
        inner.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);

    public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken) =>
        inner.DeleteToAsync(persistenceId, toSequenceNumber, cancellationToken);
}
