namespace Recall.TestKit.Persistence;

/// <summary>
/// The fault list, call counters and stalled calls of one failing store. One lock guards the
/// faults, the stalled calls and the waiters; waiting and releasing complete tasks outside it, so a
/// released call never runs store code under the lock.
/// </summary>
internal sealed class FaultInjector(string storeName)
{
    private readonly List<StoreFault> _faults = [];
    private readonly LinkedList<StalledCall> _stalled = new();
    private int _maxStalled;
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private readonly long[] _calls = new long[Enum.GetValues<StoreOperation>().Length];

    public Lock Gate { get; } = new();

    public IReadOnlyList<StoreFault> Faults
    {
        get
        {
            lock (Gate)
            {
                return [.. _faults];
            }
        }
    }

    public int MaxStalledCount
    {
        get
        {
            lock (Gate)
            {
                return _maxStalled;
            }
        }
    }

    public int StalledCount
    {
        get
        {
            lock (Gate)
            {
                return _stalled.Count;
            }
        }
    }

    public StoreFault Add(StoreOperation operation, FaultKind kind, string? persistenceId, int? times, Exception? exception, long afterEvents = 0)
    {
        if (persistenceId is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(persistenceId);
        }

        if (times is { } count)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count, nameof(times));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(afterEvents);
        var fault = new StoreFault(this, operation, kind, persistenceId, times, exception, afterEvents);
        lock (Gate)
        {
            _faults.Add(fault);
        }

        return fault;
    }

    public void Remove(StoreFault fault)
    {
        lock (Gate)
        {
            fault.MarkRemoved();
            _faults.Remove(fault);
        }
    }

    public void Clear()
    {
        lock (Gate)
        {
            foreach (var fault in _faults)
            {
                fault.MarkRemoved();
            }

            _faults.Clear();
        }
    }

    public void CountCall(StoreOperation operation) => Interlocked.Increment(ref _calls[(int)operation]);

    public long CallCount(StoreOperation operation) => Interlocked.Read(ref _calls[(int)operation]);

    /// <summary>The first active fault of this operation and kind that matches <paramref name="persistenceId"/>, with one use taken; or null.</summary>
    public StoreFault? Take(StoreOperation operation, FaultKind kind, string persistenceId)
    {
        lock (Gate)
        {
            foreach (var fault in _faults)
            {
                if (fault.TryUse(operation, kind, persistenceId))
                {
                    return fault;
                }
            }
        }

        return null;
    }

    /// <summary>Holds the calling store operation until <see cref="Release"/> or cancellation.</summary>
    public async Task StallAsync(StoreOperation operation, string persistenceId, CancellationToken cancellationToken)
    {
        var call = new StalledCall(operation, persistenceId);
        List<TaskCompletionSource>? signalled;
        lock (Gate)
        {
            call.Node = _stalled.AddLast(call);
            _maxStalled = Math.Max(_maxStalled, _stalled.Count);
            signalled = TakeSatisfiedWaiters();
        }

        Signal(signalled);
        await using var registration = cancellationToken.Register(() =>
        {
            lock (Gate)
            {
                if (call.Node?.List is not null)
                {
                    _stalled.Remove(call.Node);
                }
            }

            call.Released.TrySetCanceled(cancellationToken);
        });
        await call.Released.Task;
    }

    public int Release(int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var released = new List<StalledCall>();
        lock (Gate)
        {
            while (released.Count < max && _stalled.First is { } first)
            {
                _stalled.RemoveFirst();
                released.Add(first.Value);
            }
        }

        foreach (var call in released)
        {
            call.Released.TrySetResult();
        }

        return released.Count;
    }

    public async Task WaitForStalledAsync(int count, TimeSpan? timeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var wait = timeout ?? TestKitSettings.DefaultTimeout;
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (Gate)
        {
            if (_stalled.Count >= count)
            {
                return;
            }

            _waiters.Add((count, signal));
        }

        try
        {
            await signal.Task.WaitAsync(wait);
        }
        catch (TimeoutException)
        {
            string stalled;
            lock (Gate)
            {
                _waiters.Remove((count, signal));
                stalled = _stalled.Count == 0 ? "none" : string.Join(", ", _stalled.Select(c => $"{c.Operation} of '{c.PersistenceId}'"));
            }

            throw new TestKitException(
                $"Timed out after {wait.TotalMilliseconds:0} ms waiting for {count} stalled call(s) of the {storeName}; stalled now: {stalled}.");
        }
    }

    private List<TaskCompletionSource>? TakeSatisfiedWaiters()
    {
        List<TaskCompletionSource>? satisfied = null;
        for (var i = _waiters.Count - 1; i >= 0; i--)
        {
            if (_waiters[i].Count <= _stalled.Count)
            {
                (satisfied ??= []).Add(_waiters[i].Signal);
                _waiters.RemoveAt(i);
            }
        }

        return satisfied;
    }

    private static void Signal(List<TaskCompletionSource>? signals)
    {
        foreach (var signal in signals ?? [])
        {
            signal.TrySetResult();
        }
    }

    private sealed class StalledCall(StoreOperation operation, string persistenceId)
    {
        public StoreOperation Operation { get; } = operation;

        public string PersistenceId { get; } = persistenceId;

        public LinkedListNode<StalledCall>? Node { get; set; }

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
