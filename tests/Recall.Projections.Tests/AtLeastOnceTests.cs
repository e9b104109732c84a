using System.Collections.Concurrent;
using Recall.Persistence.Query;

namespace Recall.Projections.Tests;

/// <summary>At-least-once projections into an in-memory read model: every event handled, duplicates only after a failure, never a loss.</summary>
public sealed class AtLeastOnceTests : IAsyncLifetime
{
    private readonly Harness _harness = Harness.Create();
    private readonly InMemoryProjectionOffsetStore _offsets = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Every_event_of_the_tag_is_handled_once_in_offset_order_then_live_ones_too()
    {
        await _harness.WriteManyAsync("green", 20);
        await _harness.WriteAsync("other", new Added(1000), tags: "blue");
        await _harness.WriteAsync("untagged", new Added(2000));
        var seen = new ConcurrentQueue<EventEnvelope>();
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("totals", ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            seen.Enqueue(e);
            return Task.CompletedTask;
        }));

        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");
        Assert.Equal(Enumerable.Range(1, 20), seen.Select(e => ((Added)e.Event).Value));
        Assert.Equal(seen.Select(e => e.Offset).Order(), seen.Select(e => e.Offset));

        var last = await _harness.WriteManyAsync("green", 5, firstValue: 21);
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "the live events");
        Assert.Equal(Enumerable.Range(1, 25), seen.Select(e => ((Added)e.Event).Value));

        var row = await _offsets.ReadAsync(new ProjectionId("totals", "green"), default);
        Assert.Equal(last, row!.Offset);
        Assert.Equal(Harness.T0.AddSeconds(25), row.LastEventTimestamp);
        Assert.Equal(ProjectionState.Running, row.State);
        Assert.Equal(25, handle.Status.EventsHandled);
    }

    [Fact]
    public async Task A_restarted_projection_continues_after_its_stored_offset()
    {
        await _harness.WriteManyAsync("green", 10);
        var first = new ConcurrentQueue<int>();
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("totals", ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            first.Enqueue(((Added)e.Event).Value);
            return Task.CompletedTask;
        }));
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");
        await handle.StopAsync();
        Assert.Equal(ProjectionState.Stopped, (await _offsets.ReadAsync(handle.Id, default))!.State);
        Assert.Null(_harness.Projections.Find(handle.Id));

        await _harness.WriteManyAsync("green", 5, firstValue: 11);
        var second = new ConcurrentQueue<int>();
        var again = _harness.Projections.Start(Projection.AtLeastOnce("totals", ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            second.Enqueue(((Added)e.Event).Value);
            return Task.CompletedTask;
        }));
        await Wait.ForAsync(again.WaitForCatchUpAsync(), "catch-up after the restart");

        Assert.Equal(Enumerable.Range(1, 10), first);
        Assert.Equal(Enumerable.Range(11, 5), second);
    }

    [Fact]
    public async Task A_failing_envelope_handler_repeats_nothing_it_finished_and_skips_nothing()
    {
        await _harness.WriteManyAsync("green", 30);
        var model = new ConcurrentDictionary<(string, long), int>();
        var failed = 0;
        var projection = Projection.AtLeastOnce("model", ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            if (((Added)e.Event).Value == 17 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("the read model is down");
            }

            model.AddOrUpdate((e.PersistenceId, e.SequenceNumber), 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }).WithOptions(o =>
        {
            o.MaxBatchSize = 10;
            o.MinBackoff = TimeSpan.FromMilliseconds(20);
        });
        var handle = _harness.Projections.Start(projection);

        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");
        Assert.Equal(30, model.Count);
        Assert.All(model.Values, n => Assert.Equal(1, n));
        Assert.Equal(1, handle.Status.Restarts);
        Assert.Contains("the read model is down", handle.Status.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_batch_is_handled_again_whole_so_duplicates_appear_only_in_that_batch()
    {
        await _harness.WriteManyAsync("green", 40);
        var applied = new ConcurrentQueue<int>();
        var failed = 0;
        var batches = 0;
        var projection = Projection.AtLeastOnceGrouped("model", ProjectionSource.EventsByTag("green"), _offsets, (batch, _) =>
        {
            Interlocked.Increment(ref batches);
            foreach (var e in batch)
            {
                applied.Enqueue(((Added)e.Event).Value);
            }

            // Applied, but the offset is never stored: a crash between handler and offset store.
            if (batch.Any(e => ((Added)e.Event).Value == 25) && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("crashed after applying");
            }

            return Task.CompletedTask;
        }).WithOptions(o =>
        {
            o.MaxBatchSize = 10;
            o.MaxBatchDelay = TimeSpan.FromSeconds(5);
            o.MinBackoff = TimeSpan.FromMilliseconds(20);
        });
        var handle = _harness.Projections.Start(projection);
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");

        var counts = applied.GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(1, 40), counts.Keys.Order());
        Assert.Equal(Enumerable.Range(21, 10), counts.Where(c => c.Value == 2).Select(c => c.Key).Order());
        Assert.All(counts.Where(c => c.Key is < 21 or > 30), c => Assert.Equal(1, c.Value));
        Assert.Equal(5, batches);
    }

    [Fact]
    public async Task Two_projections_with_different_names_keep_their_own_offsets()
    {
        await _harness.WriteManyAsync("green", 5);
        var a = _harness.Projections.Start(Projection.AtLeastOnce("a", ProjectionSource.EventsByTag("green"), _offsets, (_, _) => Task.CompletedTask));
        await Wait.ForAsync(a.WaitForCatchUpAsync(), "a");
        await a.PauseAsync();
        var last = await _harness.WriteManyAsync("green", 5, firstValue: 6);
        var b = _harness.Projections.Start(Projection.AtLeastOnce("b", ProjectionSource.EventsByTag("green"), _offsets, (_, _) => Task.CompletedTask));
        await Wait.ForAsync(b.WaitForOffsetAsync(last), "b");

        Assert.Equal(10, b.Status.EventsHandled);
        Assert.Equal(5, a.Status.EventsHandled);
        Assert.Equal(2, _offsets.Rows.Count);
        Assert.Throws<InvalidOperationException>(() => _harness.Projections.Start(Projection.AtLeastOnce("b", ProjectionSource.EventsByTag("green"), _offsets, (_, _) => Task.CompletedTask)));
    }
}
