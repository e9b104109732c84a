using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// Runs one projection as a background task: a loop of runs, each of which reads the stored offset,
/// pumps a live stream from there into a bounded channel, and hands batches to the driver. A failure
/// ends the run; the next one starts after a backoff delay from the stored offset. Pause, reset and
/// rebuild cancel the run and wait until the loop is parked, so the driver is never used by two
/// tasks at once.
/// </summary>
/// <remarks>
/// A batch in flight is not cancelled by pause, reset or rebuild: its handler gets the stop token
/// only (the system terminating), and these calls wait until it finished.
/// </remarks>
internal sealed partial class ProjectionRunner : IAsyncDisposable
{
    private readonly Projection _projection;
    private readonly ProjectionOptions _options;
    private readonly ProjectionDriver _driver;
    private readonly IReadJournal? _journal;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _control = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<(Offset Target, TaskCompletionSource Done)> _waiters = [];
    private Task _loop = Task.CompletedTask;
    private Task? _stopping;

    // Guarded by _lock.
    private bool _pauseRequested;
    private bool _stopped;
    private bool _loopEnded;
    private CancellationTokenSource? _run;
    private TaskCompletionSource _wake = NewSignal();
    private TaskCompletionSource _parked = NewSignal();
    private ProjectionState _state = ProjectionState.Running;
    private Offset _offset;
    private DateTimeOffset? _lastEventTimestamp;
    private long _handled;
    private int _restarts;
    private int _failuresInRow;
    private TimeSpan? _backoff;
    private string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    private ProjectionLag? _lag;

    public ProjectionRunner(Projection projection, ProjectionDriver driver, IReadJournal? journal, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        _projection = projection;
        _options = projection.Options;
        _driver = driver;
        _journal = journal;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger<Projection>();
        Id = projection.Id;
    }

    public ProjectionId Id { get; }

    public ProjectionStatus Status
    {
        get
        {
            lock (_lock)
            {
                return new ProjectionStatus(Id, _state, _offset, _lastEventTimestamp, _handled, _restarts, _lastError, _lastErrorAt, _lag);
            }
        }
    }

    public void Start() => _loop = Task.Run(LoopAsync);

    public async Task PauseAsync(CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken);
        try
        {
            await ParkAsync(cancellationToken);
            await SaveStateAsync(ProjectionState.Paused, null);
            Log.Paused(_logger, Id, Status.Offset);
        }
        finally
        {
            _control.Release();
        }
    }

    public async Task ResumeAsync(CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken);
        try
        {
            ThrowIfStopped();
            Unpark();
        }
        finally
        {
            _control.Release();
        }
    }

    public async Task ResetAsync(Offset offset, CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken);
        try
        {
            var wasPaused = await ParkAsync(cancellationToken);
            await _driver.ResetAsync(offset, cancellationToken);
            lock (_lock)
            {
                _offset = offset;
                _lastEventTimestamp = null;
                CompleteWaitersLocked();
            }

            Log.Reset(_logger, Id, offset);
            if (!wasPaused)
            {
                Unpark();
            }
        }
        finally
        {
            _control.Release();
        }
    }

    public async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await _control.WaitAsync(cancellationToken);
        try
        {
            var wasPaused = await ParkAsync(cancellationToken);
            Log.Rebuilding(_logger, Id);
            await _driver.RebuildAsync(cancellationToken);
            lock (_lock)
            {
                _offset = Offset.Start;
                _lastEventTimestamp = null;
            }

            if (!wasPaused)
            {
                Unpark();
            }
        }
        finally
        {
            _control.Release();
        }
    }

    /// <summary>Counts the events after the handled offset (up to the scan limit) and records the lag.</summary>
    public async Task<ProjectionStatus> MeasureAsync(CancellationToken cancellationToken)
    {
        Offset from;
        DateTimeOffset? lastHandled;
        lock (_lock)
        {
            from = _offset;
            lastHandled = _lastEventTimestamp;
        }

        long count = 0;
        DateTimeOffset? oldest = null;
        DateTimeOffset? newest = null;
        await foreach (var envelope in _projection.Source.Events(_journal, from, live: false, cancellationToken))
        {
            count++;
            oldest ??= envelope.Timestamp;
            newest = envelope.Timestamp;
            if (count >= _options.LagScanLimit)
            {
                break;
            }
        }

        var time = newest is { } n && (lastHandled ?? oldest) is { } reference && n > reference ? n - reference : TimeSpan.Zero;
        var lag = new ProjectionLag(count, count >= _options.LagScanLimit, time, _time.GetUtcNow());
        lock (_lock)
        {
            _lag = lag;
        }

        return Status;
    }

    /// <summary>Completes when every event the source holds now is handled.</summary>
    public async Task WaitForCatchUpAsync(CancellationToken cancellationToken)
    {
        Offset from;
        lock (_lock)
        {
            from = _offset;
        }

        Offset? last = null;
        await foreach (var envelope in _projection.Source.Events(_journal, from, live: false, cancellationToken))
        {
            last = envelope.Offset;
        }

        if (last is { } target)
        {
            await WaitForOffsetAsync(target, cancellationToken);
        }
    }

    public Task WaitForOffsetAsync(Offset target, CancellationToken cancellationToken)
    {
        TaskCompletionSource done;
        lock (_lock)
        {
            if (_offset >= target)
            {
                return Task.CompletedTask;
            }

            ThrowIfStoppedLocked();
            done = NewSignal();
            _waiters.Add((target, done));
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    public Task StopAsync()
    {
        lock (_lock)
        {
            return _stopping ??= StopCoreAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task StopCoreAsync()
    {
        lock (_lock)
        {
            _stopped = true;
        }

        await _stop.CancelAsync();
        await _loop;
        await _control.WaitAsync();
        try
        {
            List<(Offset, TaskCompletionSource Done)> waiters;
            lock (_lock)
            {
                _state = ProjectionState.Stopped;
                waiters = [.. _waiters];
                _waiters.Clear();
            }

            foreach (var waiter in waiters)
            {
                waiter.Done.TrySetException(new InvalidOperationException($"Projection {Id} stopped before it reached the offset."));
            }

            await SaveStateAsync(ProjectionState.Stopped, null);
            await _driver.DisposeAsync();
        }
        finally
        {
            _control.Release();
        }
    }

    private async Task LoopAsync()
    {
        var stop = _stop.Token;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                CancellationTokenSource? run = null;
                Task wake = Task.CompletedTask;
                TimeSpan? backoff;
                lock (_lock)
                {
                    backoff = _backoff;
                    if (_pauseRequested)
                    {
                        _state = ProjectionState.Paused;
                        _parked.TrySetResult();
                        wake = _wake.Task;
                    }
                    else
                    {
                        run = _run = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    }
                }

                if (run is null)
                {
                    await wake.WaitAsync(stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    continue;
                }

                try
                {
                    if (backoff is { } delay)
                    {
                        await Task.Delay(delay, _time, run.Token);
                        lock (_lock)
                        {
                            _backoff = null;
                            _restarts++;
                        }
                    }

                    await RunAsync(run.Token);

                    // Only a custom, finite source ends: nothing more will come.
                    await SaveStateAsync(ProjectionState.Stopped, null);
                    break;
                }
                catch (Exception exception) when (stop.IsCancellationRequested || (run.IsCancellationRequested && exception is not ProjectionHandlerException))
                {
                    // Stopped, or paused, reset or rebuilt (a handler that failed meanwhile still counts as a failure).
                }
                catch (Exception exception)
                {
                    await OnFailureAsync(exception);
                }
                finally
                {
                    lock (_lock)
                    {
                        _run = null;
                    }

                    run.Dispose();
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _loopEnded = true;
                _state = ProjectionState.Stopped;
                _parked.TrySetResult();
            }
        }
    }

    private async Task RunAsync(CancellationToken run)
    {
        var stored = await _driver.StartAsync(run);
        var from = stored?.Offset ?? Offset.Start;
        lock (_lock)
        {
            _state = ProjectionState.Running;
            _offset = from;
            _lastEventTimestamp = stored?.LastEventTimestamp;
            CompleteWaitersLocked();
        }

        Log.Started(_logger, Id, from);
        var channel = Channel.CreateBounded<Item>(new BoundedChannelOptions(Math.Max(16, 2 * _options.MaxBatchSize))
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var pumping = CancellationTokenSource.CreateLinkedTokenSource(run);
        var pump = PumpAsync(_projection.Source.Events(_journal, from, live: true, pumping.Token), channel.Writer, pumping.Token);
        try
        {
            while (await NextBatchAsync(channel.Reader, run) is { } batch)
            {
                await _driver.HandleAsync(batch, _stop.Token);
                OnHandled(batch);
            }
        }
        finally
        {
            await pumping.CancelAsync();
            await pump;
        }
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

    /// <summary>
    /// The next batch: what is ready, up to the batch size, waiting up to the batch delay for more
    /// (and, without limit, for the rest of an offset whose envelopes are still coming). Null when a
    /// finite source ended.
    /// </summary>
    private async Task<List<EventEnvelope>?> NextBatchAsync(ChannelReader<Item> reader, CancellationToken cancellationToken)
    {
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

    private void OnHandled(List<EventEnvelope> batch)
    {
        var last = batch[^1];
        lock (_lock)
        {
            _offset = last.Offset;
            _lastEventTimestamp = last.Timestamp;
            _handled += batch.Count;
            _failuresInRow = 0;
            CompleteWaitersLocked();
        }

        ProjectionTelemetry.Handled(Id, batch.Count, _time.GetUtcNow() - last.Timestamp);
    }

    /// <summary>Completes the waiters whose offset is handled (the stored offset may also jump ahead: a restart after another instance, a reset).</summary>
    private void CompleteWaitersLocked()
    {
        for (var i = _waiters.Count - 1; i >= 0; i--)
        {
            if (_waiters[i].Target <= _offset)
            {
                _waiters[i].Done.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }

    private async Task OnFailureAsync(Exception exception)
    {
        ProjectionTelemetry.Failed(Id, exception);
        TimeSpan delay;
        string error;
        lock (_lock)
        {
            _failuresInRow++;
            delay = _options.BackoffDelay(_failuresInRow, Random.Shared.NextDouble());
            _backoff = delay;
            error = Describe(exception);
            _lastError = error;
            _lastErrorAt = _time.GetUtcNow();
            _state = ProjectionState.Failed;
        }

        switch (exception)
        {
            case ProjectionHandlerException { Envelope: { } envelope } failed:
                Log.HandlerFailed(_logger, failed.InnerException!, Id, envelope.PersistenceId, envelope.SequenceNumber, envelope.Offset, delay);
                break;
            case ProjectionHandlerException failed:
                Log.BatchFailed(_logger, failed.InnerException!, Id, failed.Batch.Count, failed.Batch[0].PersistenceId, failed.Batch[0].SequenceNumber, failed.Batch[0].Offset, failed.Batch[^1].Offset, delay);
                break;
            default:
                Log.Failed(_logger, exception, Id, delay);
                break;
        }

        await SaveStateAsync(ProjectionState.Failed, error);
    }

    private static string Describe(Exception exception)
    {
        var cause = exception is ProjectionHandlerException { InnerException: { } inner } ? inner : exception;
        var what = exception switch
        {
            ProjectionHandlerException { Envelope: { } e } => $"handling event {e.PersistenceId} #{e.SequenceNumber} at offset {e.Offset}",
            ProjectionHandlerException { Batch: var b } => $"handling a batch of {b.Count} events from {b[0].PersistenceId} #{b[0].SequenceNumber} at offset {b[0].Offset} to offset {b[^1].Offset}",
            _ => "outside the handler: reading the offset or events, or storing the offset",
        };
        return $"{cause.GetType().FullName}: {cause.Message} ({what})";
    }

    /// <summary>Records the state in the offset store; a failure to do so is logged, not thrown (the store may be what failed).</summary>
    private async Task SaveStateAsync(ProjectionState state, string? error)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _driver.SaveStateAsync(state, error, timeout.Token);
        }
        catch (Exception exception)
        {
            Log.StateNotSaved(_logger, exception, Id, state);
        }
    }

    /// <summary>Stops the run (after its batch in flight) and waits until the loop is parked. Returns whether it was paused already.</summary>
    private async Task<bool> ParkAsync(CancellationToken cancellationToken)
    {
        bool wasPaused;
        CancellationTokenSource? run;
        Task parked;
        lock (_lock)
        {
            ThrowIfStoppedLocked();
            wasPaused = _pauseRequested;
            if (!wasPaused)
            {
                _pauseRequested = true;
                if (!_loopEnded)
                {
                    _parked = NewSignal();
                }
            }

            run = _run;
            parked = _parked.Task;
        }

        try
        {
            run?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The run ended meanwhile; the loop parks at its next turn.
        }

        await parked.WaitAsync(cancellationToken);
        ThrowIfStopped();
        return wasPaused;
    }

    private void Unpark()
    {
        lock (_lock)
        {
            if (!_pauseRequested)
            {
                return;
            }

            // A user who resumes wants it now, not after the rest of a backoff delay.
            _pauseRequested = false;
            _backoff = null;
            _failuresInRow = 0;
            _state = _loopEnded ? ProjectionState.Stopped : ProjectionState.Running;
            var wake = _wake;
            _wake = NewSignal();
            wake.TrySetResult();
        }
    }

    private void ThrowIfStopped()
    {
        lock (_lock)
        {
            ThrowIfStoppedLocked();
        }
    }

    private void ThrowIfStoppedLocked()
    {
        if (_stopped)
        {
            throw new InvalidOperationException($"Projection {Id} is stopped.");
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly record struct Item(EventEnvelope Envelope, bool EndsOffset);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Projection {Projection} started from offset {Offset}")]
        public static partial void Started(ILogger logger, ProjectionId projection, Offset offset);

        [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Projection {Projection} failed handling event {PersistenceId} #{SequenceNumber} at offset {Offset}; it starts again from its stored offset in {Delay}")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, ProjectionId projection, string persistenceId, long sequenceNumber, Offset offset, TimeSpan delay);

        [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Projection {Projection} failed handling a batch of {Count} events from {PersistenceId} #{SequenceNumber} at offset {Offset} to offset {LastOffset}; it starts again from its stored offset in {Delay}")]
        public static partial void BatchFailed(ILogger logger, Exception exception, ProjectionId projection, int count, string persistenceId, long sequenceNumber, Offset offset, Offset lastOffset, TimeSpan delay);

        [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Projection {Projection} failed outside its handler (reading its offset or events, or storing its offset); it starts again from its stored offset in {Delay}")]
        public static partial void Failed(ILogger logger, Exception exception, ProjectionId projection, TimeSpan delay);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Projection {Projection} could not record its state {State}")]
        public static partial void StateNotSaved(ILogger logger, Exception exception, ProjectionId projection, ProjectionState state);

        [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Projection {Projection} paused at offset {Offset}")]
        public static partial void Paused(ILogger logger, ProjectionId projection, Offset offset);

        [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Projection {Projection} reset to offset {Offset}")]
        public static partial void Reset(ILogger logger, ProjectionId projection, Offset offset);

        [LoggerMessage(EventId = 8, Level = LogLevel.Information, Message = "Projection {Projection} rebuilding from the start")]
        public static partial void Rebuilding(ILogger logger, ProjectionId projection);
    }
}
