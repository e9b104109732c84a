using Microsoft.Extensions.Logging;
using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// Runs one projection as a background task: a loop of runs, each of which reads the stored offset,
/// pumps a live stream from there into a bounded channel (<see cref="ProjectionBatcher"/>), and hands batches to the driver. A failure
/// ends the run; the next one starts after a backoff delay from the stored offset. Pause, reset and
/// rebuild cancel the run and wait until the loop is parked, so the driver is never used by two
/// tasks at once.
/// </summary>
/// <remarks>
/// A batch in flight is not cancelled by pause, reset or rebuild: its handler gets the stop token
/// only (the system terminating), and these calls wait until it finished.
/// <para>
/// This file holds the fields, construction, one run and the stop; the control loop (pause,
/// resume, reset, rebuild, restart) and progress and status are in the Control and Progress parts.
/// </para>
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

    public void Start() => _loop = Task.Run(LoopAsync);

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
        await using var batcher = new ProjectionBatcher(token => _projection.Source.Events(_journal, from, live: true, token), _options, _time, run);
        while (await batcher.NextBatchAsync(run) is { } batch)
        {
            await _driver.HandleAsync(batch, _stop.Token);
            OnHandled(batch);
        }
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

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

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
