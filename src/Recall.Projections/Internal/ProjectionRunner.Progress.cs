using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// Progress and status: the handled offset after each batch, the status and lag reported to
/// management, and the waiters for an offset (or for catching up) completed as it moves.
/// </summary>
internal sealed partial class ProjectionRunner
{
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
}
