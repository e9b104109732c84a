using System.Collections.Concurrent;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Projections.Tests;

/// <summary>How envelopes are grouped into batches, and that a batch never splits the envelopes of one offset.</summary>
public sealed class BatchingTests
{
    [EventType("projections-test.split.v1")]
    public sealed record Split(int First, int Count);

    /// <summary>Reads one stored <see cref="Split"/> as several <see cref="Added"/> events, which share its offset.</summary>
    private sealed class SplitAdapter : IEventAdapter
    {
        public object ToJournal(object @event) => @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest) =>
            stored is Split s ? [.. Enumerable.Range(s.First, s.Count).Select(v => (object)new Added(v))] : [stored];
    }

    [Fact]
    public async Task Without_a_batch_delay_a_live_event_is_handled_at_once_in_a_batch_of_its_own()
    {
        await using var harness = Harness.Create();
        var batches = new ConcurrentQueue<int>();
        var handle = harness.Projections.Start(Projection.AtLeastOnceGrouped("grouped", ProjectionSource.EventsByTag("green"), new InMemoryProjectionOffsetStore(), (batch, _) =>
        {
            batches.Enqueue(batch.Count);
            return Task.CompletedTask;
        }).WithOptions(o => o.MaxBatchSize = 50));
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "start");

        for (var i = 1; i <= 3; i++)
        {
            var offset = await harness.WriteAsync("p", new Added(i), tags: "green");
            await Wait.ForAsync(handle.WaitForOffsetAsync(offset), $"event {i}");
        }

        Assert.Equal([1, 1, 1], batches);
    }

    [Fact]
    public async Task While_catching_up_batches_take_what_is_ready_up_to_the_batch_size()
    {
        await using var harness = Harness.Create();
        var last = await harness.WriteManyAsync("green", 500);
        var batches = new ConcurrentQueue<IReadOnlyList<EventEnvelope>>();
        var handle = harness.Projections.Start(Projection.AtLeastOnceGrouped("grouped", ProjectionSource.EventsByTag("green"), new InMemoryProjectionOffsetStore(), (batch, _) =>
        {
            batches.Enqueue(batch);
            return Task.CompletedTask;
        }).WithOptions(o => o.MaxBatchSize = 64));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 64));
        Assert.Equal(Enumerable.Range(1, 500), batches.SelectMany(b => b).Select(e => ((Added)e.Event).Value));
        Assert.True(batches.Count < 100, $"{batches.Count} batches for 500 ready events");
    }

    [Fact]
    public async Task Envelopes_sharing_an_offset_always_travel_in_one_batch()
    {
        await using var harness = Harness.Create(persistence: p => p.Adapters.AddRead<Split>(new SplitAdapter()));
        var value = 1;
        Offset last = default;
        for (var i = 0; i < 10; i++)
        {
            last = await harness.WriteAsync("p", new Split(value, 3), tags: "green");
            value += 3;
        }

        var batches = new ConcurrentQueue<IReadOnlyList<EventEnvelope>>();
        var handle = harness.Projections.Start(Projection.AtLeastOnceGrouped("grouped", ProjectionSource.EventsByTag("green"), new InMemoryProjectionOffsetStore(), (batch, _) =>
        {
            batches.Enqueue(batch);
            return Task.CompletedTask;
        }).WithOptions(o =>
        {
            o.MaxBatchSize = 2;
            o.MaxBatchDelay = TimeSpan.FromMilliseconds(200);
        }));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        Assert.Equal(Enumerable.Range(1, 30), batches.SelectMany(b => b).Select(e => ((Added)e.Event).Value));
        Assert.All(batches, b => Assert.Equal(3, b.Count));
        Assert.All(batches, b => Assert.Single(b.Select(e => e.Offset).Distinct()));
    }

    [Fact]
    public async Task A_failure_inside_a_shared_offset_repeats_the_whole_offset_and_loses_none_of_it()
    {
        await using var harness = Harness.Create(persistence: p => p.Adapters.AddRead<Split>(new SplitAdapter()));
        await harness.WriteAsync("p", new Split(1, 3), tags: "green");
        var last = await harness.WriteAsync("p", new Split(4, 3), tags: "green");
        var offsets = new InMemoryProjectionOffsetStore();
        var handled = new ConcurrentQueue<int>();
        var failed = 0;
        var handle = harness.Projections.Start(Projection.AtLeastOnce("split", ProjectionSource.EventsByTag("green"), offsets, (e, _) =>
        {
            var v = ((Added)e.Event).Value;
            if (v == 5 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("fails inside the second stored event");
            }

            handled.Enqueue(v);
            return Task.CompletedTask;
        }).WithOptions(o => o.MinBackoff = TimeSpan.FromMilliseconds(20)));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");

        // 4 was handled, but the stored offset stays before its event: 4 comes again with 5 and 6.
        Assert.Equal([1, 2, 3, 4, 4, 5, 6], handled);
    }
}
