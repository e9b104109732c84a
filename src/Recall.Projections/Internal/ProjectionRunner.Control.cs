using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// The control loop: the loop of runs with its restart after a failure (after a backoff delay),
/// and pause, resume, reset and rebuild, which park the loop between runs and wake it again.
/// </summary>
internal sealed partial class ProjectionRunner
{
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
}
