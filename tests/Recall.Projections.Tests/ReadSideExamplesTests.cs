using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Recall.Persistence.Query;

namespace Recall.Projections.Tests;

/// <summary>The read side as plain IAsyncEnumerable code over the ReadJournal, without projections.</summary>
public sealed class ReadSideExamplesTests
{
    [Fact]
    public async Task One_stream_two_consumers_each_see_every_event_in_the_same_order()
    {
        await using var harness = Harness.Create();
        await harness.WriteManyAsync("green", 10);
        using var timeout = new CancellationTokenSource(Wait.Timeout);

        async Task<List<int>> ConsumeAsync()
        {
            var values = new List<int>();
            await foreach (var envelope in harness.ReadJournal.EventsByTag("green", Offset.Start, live: true, timeout.Token))
            {
                values.Add(((Added)envelope.Event).Value);
                if (values.Count == 20)
                {
                    break;
                }
            }

            return values;
        }

        var first = ConsumeAsync();
        var second = ConsumeAsync();
        await harness.WriteManyAsync("green", 10, firstValue: 11); // live: both get these too

        Assert.Equal(Enumerable.Range(1, 20), await first);
        Assert.Equal(Enumerable.Range(1, 20), await second);
    }

    [Fact]
    public async Task Two_streams_merged_into_one_consumer_deliver_the_events_of_both_tags()
    {
        await using var harness = Harness.Create();
        for (var i = 1; i <= 10; i++)
        {
            await harness.WriteAsync("p", new Added(i), tags: i % 2 == 0 ? "even" : "odd");
        }

        using var timeout = new CancellationTokenSource(Wait.Timeout);
        var merged = Merge(
            [harness.ReadJournal.EventsByTag("odd", Offset.Start, live: true, timeout.Token), harness.ReadJournal.EventsByTag("even", Offset.Start, live: true, timeout.Token)],
            timeout.Token);

        var values = new List<int>();
        var perTag = new Dictionary<string, List<Offset>>();
        await foreach (var envelope in merged)
        {
            values.Add(((Added)envelope.Event).Value);
            var tag = envelope.Tags.Single();
            (perTag.TryGetValue(tag, out var list) ? list : perTag[tag] = []).Add(envelope.Offset);
            if (values.Count == 10)
            {
                break;
            }
        }

        Assert.Equal(Enumerable.Range(1, 10), values.Order());
        Assert.All(perTag.Values, offsets => Assert.Equal(offsets.Order(), offsets)); // each stream keeps its own order
    }

    /// <summary>Merges streams: whatever arrives first on any of them comes first. Ordinary IAsyncEnumerable code over a bounded channel.</summary>
    private static async IAsyncEnumerable<T> Merge<T>(IReadOnlyList<IAsyncEnumerable<T>> streams, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<T>(16);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pumps = streams.Select(async stream =>
        {
            await foreach (var item in stream.WithCancellation(stop.Token))
            {
                await channel.Writer.WriteAsync(item, stop.Token);
            }
        }).ToList();
        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception), TaskScheduler.Default);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(pumps).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
