namespace Recall.Persistence.Internal;

/// <summary>
/// Writes the journal front stopped waiting for (<see cref="PersistenceOptions.JournalCallTimeout"/>)
/// that may still be running in the store, by persistence id. Until such a write ends, no other
/// write of its ids starts and no recovery of them reads: the journal's promise that calls for one
/// id never overlap holds, and the next incarnation recovers what was actually stored.
/// </summary>
internal sealed class AbandonedWrites
{
    private readonly Dictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private volatile int _count;

    /// <summary>No abandoned write is running (the common case, checked without a lock).</summary>
    public bool IsEmpty => _count == 0;

    /// <summary>Records <paramref name="write"/> as running for <paramref name="persistenceIds"/> until it ends, however it ends.</summary>
    public void Add(IEnumerable<string> persistenceIds, Task write)
    {
        var ids = persistenceIds.Distinct(StringComparer.Ordinal).ToArray();
        var forgotten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            foreach (var id in ids)
            {
                _running[id] = forgotten.Task;
            }

            _count = _running.Count;
        }

        // Who waits for the write waits for this task, which completes only once the ids are free
        // again: whatever it does next (recover, write) finds them free.
        write.ContinueWith(
            _ =>
            {
                Remove(ids, forgotten.Task);
                forgotten.SetResult();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>A task that completes once the abandoned write still running for <paramref name="persistenceId"/> has ended and the id is free, or null.</summary>
    public Task? Of(string persistenceId)
    {
        if (IsEmpty)
        {
            return null;
        }

        lock (_lock)
        {
            return _running.GetValueOrDefault(persistenceId);
        }
    }

    private void Remove(string[] ids, Task write)
    {
        lock (_lock)
        {
            foreach (var id in ids)
            {
                if (_running.TryGetValue(id, out var running) && ReferenceEquals(running, write))
                {
                    _running.Remove(id);
                }
            }

            _count = _running.Count;
        }
    }
}
