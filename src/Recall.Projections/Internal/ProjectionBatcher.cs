using System.Threading.Channels;
using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// The batches of one run: a pump moves the source's envelopes into a bounded channel, and
/// <see cref="NextBatchAsync"/> gathers them into batches by size and time
/// (<see cref="ProjectionOptions.MaxBatchSize"/>, <see cref="ProjectionOptions.MaxBatchDelay"/>,
/// both read for each batch) on the given clock, never splitting the envelopes of one offset.
/// Disposing it stops the pump and waits until it ended.
/// </summary>
internal sealed class ProjectionBatcher : IAsyncDisposable
{
    private readonly ProjectionOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<Item> _channel;
    private readonly CancellationTokenSource _pumping;
    private readonly Task _pump;

    /// <summary>Starts the pump.</summary>
    /// <param name="events">Opens the source; it gets the token that stops the pump.</param>
    /// <param name="options">The batch size and delay.</param>
    /// <param name="time">The clock of the batch delay.</param>
    /// <param name="cancellationToken">Stops the pump (as disposing does).</param>
    public ProjectionBatcher(Func<CancellationToken, IAsyncEnumerable<EventEnvelope>> events, ProjectionOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        _options = options;
        _time = time;
        _channel = Channel.CreateBounded<Item>(new BoundedChannelOptions(Math.Max(16, 2 * options.MaxBatchSize))
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _pumping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            _pump = PumpAsync(events(_pumping.Token), _channel.Writer, _pumping.Token);
        }
        catch
        {
            _pumping.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The next batch: what is ready, up to the batch size, waiting up to the batch delay for more
    /// (and, without limit, for the rest of an offset whose envelopes are still coming). Null when a
    /// finite source ended.
    /// </summary>
    public async Task<List<EventEnvelope>?> NextBatchAsync(CancellationToken cancellationToken)
    {
        var reader = _channel.Reader;
        if (!await reader.WaitToReadAsync(cancellationToken))
        {
            return null;
        }

        var max = _options.MaxBatchSize;
        var batch = new List<EventEnvelope>(Math.Min(max, 256));
        var complete = true;
        var started = _time.GetTimestamp();
        while (true)
        {
            while (reader.TryRead(out var item))
            {
                batch.Add(item.Envelope);
                complete = item.EndsOffset;
                if (complete && batch.Count >= max)
                {
                    return batch;
                }
            }

            bool more;
            if (complete)
            {
                var left = _options.MaxBatchDelay - _time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    return batch;
                }

                using var timer = new CancellationTokenSource(left, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
                try
                {
                    more = await reader.WaitToReadAsync(linked.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return batch;
                }
            }
            else
            {
                more = await reader.WaitToReadAsync(cancellationToken);
            }

            if (!more)
            {
                return batch;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _pumping.CancelAsync();
        await _pump;
        _pumping.Dispose();
    }

    /// <summary>
    /// Moves envelopes from the source into the channel, marking each with whether it is the last of
    /// its offset (envelopes sharing an offset come back to back). An envelope is held back only while
    /// the next one is already available; otherwise it goes at once, so a live stream that waits for
    /// new events never holds one back. Never throws: a failure completes the channel with it.
    /// </summary>
    private static async Task PumpAsync(IAsyncEnumerable<EventEnvelope> events, ChannelWriter<Item> writer, CancellationToken cancellationToken)
    {
        Exception? error = null;
        IAsyncEnumerator<EventEnvelope>? enumerator = null;
        Task<bool>? moving = null;
        try
        {
            enumerator = events.GetAsyncEnumerator(cancellationToken);
            if (!await enumerator.MoveNextAsync())
            {
                return;
            }

            var pending = enumerator.Current;
            while (true)
            {
                var next = enumerator.MoveNextAsync();
                bool more;
                if (next.IsCompleted)
                {
                    more = next.GetAwaiter().GetResult();
                    await writer.WriteAsync(new Item(pending, EndsOffset: !more || enumerator.Current.Offset != pending.Offset), cancellationToken);
                }
                else
                {
                    moving = next.AsTask();
                    await writer.WriteAsync(new Item(pending, EndsOffset: true), cancellationToken);
                    more = await moving;
                    moving = null;
                }

                if (!more)
                {
                    return;
                }

                pending = enumerator.Current;
            }
        }
        catch (Exception exception)
        {
            error = exception;
        }
        finally
        {
            if (moving is not null)
            {
                // An enumerator must not be disposed while it moves; the cancelled token ends the move.
                await ((Task)moving).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (enumerator is not null)
            {
                try
                {
                    await enumerator.DisposeAsync();
                }
                catch (Exception exception)
                {
                    error ??= exception;
                }
            }

            writer.TryComplete(error);
        }
    }

    private readonly record struct Item(EventEnvelope Envelope, bool EndsOffset);
}
