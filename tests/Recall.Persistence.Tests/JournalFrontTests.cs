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
}
