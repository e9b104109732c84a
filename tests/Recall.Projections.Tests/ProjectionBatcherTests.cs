using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.Tests;

/// <summary>
/// The batcher on its own, on a fake clock: a batch goes when it is full, when the batch delay
/// (counted from its first envelope) is up, or when the source ends; never before, and never
/// between the envelopes of one offset.
/// </summary>
public sealed class ProjectionBatcherTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task A_batch_is_handed_over_as_soon_as_it_reaches_the_size_limit()
    {
        var clock = new CountingClock();
        var source = Source(Enumerable.Range(1, 5).Select(v => Envelope(v, v)));
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 3, TimeSpan.FromMinutes(1)), clock, CancellationToken.None);

        var full = await Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "a full batch, the clock standing still");
        Assert.Equal([1, 2, 3], Values(full));

        // The two left make a partial batch: that one waits for the delay.
        var timers = clock.TimerCount;
        var partial = batcher.NextBatchAsync(CancellationToken.None);
        Assert.Equal(TimeSpan.FromMinutes(1), await clock.TimerAsync(timers + 1));
        Assert.False(partial.IsCompleted);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([4, 5], Values(await Wait.ForAsync(partial, "the partial batch")));
    }

    [Fact]
    public async Task A_partial_batch_is_handed_over_when_the_batch_delay_is_up_and_not_before()
    {
        var clock = new CountingClock();
        var source = Source([]);
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, Delay), clock, CancellationToken.None);
        var batch = batcher.NextBatchAsync(CancellationToken.None);

        source.Writer.TryWrite(Envelope(1, 1));
        Assert.Equal(Delay, await clock.TimerAsync(1));
        clock.Advance(Delay - TimeSpan.FromMilliseconds(1));

        // Still within the delay: the next envelope joins the batch, which waits the rest of the delay.
        source.Writer.TryWrite(Envelope(2, 2));
        Assert.Equal(TimeSpan.FromMilliseconds(1), await clock.TimerAsync(2));
        Assert.False(batch.IsCompleted);

        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([1, 2], Values(await Wait.ForAsync(batch, "the batch at the end of its delay")));
    }

    [Fact]
    public async Task The_batch_delay_counts_from_the_first_envelope_not_from_the_call()
    {
        var clock = new CountingClock();
        var source = Source([]);
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, Delay), clock, CancellationToken.None);
        var batch = batcher.NextBatchAsync(CancellationToken.None);

        // Waiting for the first envelope takes no time off the delay.
        clock.Advance(TimeSpan.FromMinutes(1));
        source.Writer.TryWrite(Envelope(1, 1));
        Assert.Equal(Delay, await clock.TimerAsync(1));
        Assert.False(batch.IsCompleted);

        clock.Advance(Delay);
        Assert.Equal([1], Values(await Wait.ForAsync(batch, "the batch at the end of its delay")));
    }

    [Fact]
    public async Task Without_a_batch_delay_a_batch_takes_what_is_ready_and_never_waits()
    {
        var clock = new CountingClock();
        var source = Source([Envelope(1, 1)]);
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, TimeSpan.Zero), clock, CancellationToken.None);

        var batch = await Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "a batch, the clock standing still");
        Assert.Equal([1], Values(batch));
        Assert.Equal(0, clock.TimerCount);
    }

    [Fact]
    public async Task Envelopes_sharing_an_offset_stay_in_one_batch_beyond_the_size_limit()
    {
        var clock = new CountingClock();
        var source = Source([Envelope(1, 1), Envelope(1, 2), Envelope(1, 3), Envelope(2, 4)]);
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 2, TimeSpan.FromMinutes(1)), clock, CancellationToken.None);

        var batch = await Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "a full batch, the clock standing still");
        Assert.Equal([1, 2, 3], Values(batch));
    }

    [Fact]
    public async Task When_a_finite_source_ends_its_last_batch_goes_at_once_and_then_there_are_no_more()
    {
        var clock = new CountingClock();
        var source = Source([Envelope(1, 1)]);
        source.Writer.Complete();
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, TimeSpan.FromMinutes(1)), clock, CancellationToken.None);

        var last = await Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "the last batch, the clock standing still");
        Assert.Equal([1], Values(last));
        Assert.Null(await Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "the end"));
    }

    [Fact]
    public async Task A_failing_source_fails_the_next_batch_with_its_exception()
    {
        var clock = new CountingClock();
        var source = Source([]);
        source.Writer.Complete(new InvalidOperationException("the source failed"));
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, Delay), clock, CancellationToken.None);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Wait.ForAsync(batcher.NextBatchAsync(CancellationToken.None), "the failure"));
        Assert.Equal("the source failed", failure.Message);
    }

    [Fact]
    public async Task Cancelling_a_batch_that_waits_for_its_delay_throws_instead_of_handing_over_the_partial_batch()
    {
        var clock = new CountingClock();
        var source = Source([Envelope(1, 1)]);
        await using var batcher = new ProjectionBatcher(source.Reader.ReadAllAsync, Options(maxBatchSize: 10, Delay), clock, CancellationToken.None);
        using var cancellation = new CancellationTokenSource();
        var batch = batcher.NextBatchAsync(cancellation.Token);
        await clock.TimerAsync(1);

        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Wait.ForAsync(batch, "the cancelled batch"));
    }

    [Fact]
    public async Task Disposing_stops_the_source_and_waits_until_it_ended()
    {
        var clock = new CountingClock();
        var source = Source([]);
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batcher = new ProjectionBatcher(token => Watched(source.Reader, ended, token), Options(maxBatchSize: 10, Delay), clock, CancellationToken.None);

        await Wait.ForAsync(batcher.DisposeAsync().AsTask(), "the batcher to stop");
        Assert.True(ended.Task.IsCompleted, "the source was still open after DisposeAsync");
    }

    private static ProjectionOptions Options(int maxBatchSize, TimeSpan maxBatchDelay) =>
        new() { MaxBatchSize = maxBatchSize, MaxBatchDelay = maxBatchDelay };

    private static EventEnvelope Envelope(long offset, int value) =>
        new(Offset.Sequence(offset), "p", value, new Added(value), Harness.T0, []);

    private static List<int> Values(IReadOnlyList<EventEnvelope>? batch) =>
        [.. Assert.IsAssignableFrom<IReadOnlyList<EventEnvelope>>(batch).Select(e => ((Added)e.Event).Value)];

    /// <summary>A source holding <paramref name="envelopes"/> already, open for more.</summary>
    private static Channel<EventEnvelope> Source(IEnumerable<EventEnvelope> envelopes)
    {
        var source = Channel.CreateUnbounded<EventEnvelope>();
        foreach (var envelope in envelopes)
        {
            source.Writer.TryWrite(envelope);
        }

        return source;
    }

    /// <summary>Reads <paramref name="reader"/>, and completes <paramref name="ended"/> once the enumeration is over.</summary>
    private static async IAsyncEnumerable<EventEnvelope> Watched(ChannelReader<EventEnvelope> reader, TaskCompletionSource ended, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var envelope in reader.ReadAllAsync(cancellationToken))
            {
                yield return envelope;
            }
        }
        finally
        {
            ended.TrySetResult();
        }
    }

    /// <summary>A fake clock that records the due time of each timer created on it: a batch waiting for its delay is one.</summary>
    private sealed class CountingClock() : FakeTimeProvider(Harness.T0)
    {
        private readonly List<TimeSpan> _dueTimes = [];

        public int TimerCount
        {
            get
            {
                lock (_dueTimes)
                {
                    return _dueTimes.Count;
                }
            }
        }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            lock (_dueTimes)
            {
                _dueTimes.Add(dueTime);
            }

            return timer;
        }

        /// <summary>Waits until the <paramref name="number"/>th timer (from 1) was created; returns its due time.</summary>
        public async Task<TimeSpan> TimerAsync(int number)
        {
            await Wait.UntilAsync(() => TimerCount >= number, $"timer {number} to be created");
            lock (_dueTimes)
            {
                return _dueTimes[number - 1];
            }
        }
    }
}
