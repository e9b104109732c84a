using System.Runtime.CompilerServices;
using System.Diagnostics;
using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// A persistent actor's writes, atomic writes in sequence order, sent to the journal front. The front
/// answers it in place: it sets the outcome (<see cref="Results"/> or <see cref="Failure"/>) and tells
/// the request back to its writer: one message object for the way there and back, not one each way.
/// </summary>
internal sealed class WriteRequest(IActorRef writer, int incarnation, IReadOnlyList<AtomicWrite> writes)
{
    public IActorRef Writer { get; } = writer;

    /// <summary>The writer's incarnation when it sent the request: an answer for an earlier one is ignored.</summary>
    public int Incarnation { get; } = incarnation;

    public IReadOnlyList<AtomicWrite> Writes { get; } = writes;

    /// <summary>Once answered: one entry per atomic write (null = stored), or null when the whole request failed.</summary>
    public IReadOnlyList<Exception?>? Results { get; private set; }

    /// <summary>Once answered: the failure of the whole request, or null.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Sets the outcome and tells the request back to its writer; the front answers each request once.</summary>
    public void Answer(IReadOnlyList<Exception?>? results, Exception? failure)
    {
        Results = results;
        Failure = failure;
        Writer.Tell(this, null); // the mailbox publishes what was set before
    }
}

/// <summary>
/// The actor in front of a journal (group commit). Requests from all persistent actors are
/// gathered while a batch is being written; when it completes, the gathered requests go out as
/// the next batch (up to <see cref="PersistenceOptions.MaxBatchSize"/> events). With
/// <see cref="PersistenceOptions.MaxConcurrentWrites"/> above 1, further batches go out meanwhile
/// with the requests whose persistence id has no batch in the store (the others wait), once they
/// hold as many events as the batch sent last. Requests already waiting in the mailbox join the
/// ones gathered before a batch goes out. Requests of
/// one id keep their arrival order, so each actor's writes and responses stay in order. Each batch's size,
/// write time and stored events are measured only while a meter listener is attached.
/// </summary>
/// <remarks>
/// A write that outlives <see cref="PersistenceOptions.JournalCallTimeout"/> is reported failed and
/// the front moves on, but the write may still be running in the store: its ids go into
/// <see cref="AbandonedWrites"/> until it ends, and requests for them fail at once meanwhile, so
/// that two calls for one id never overlap.
/// </remarks>
internal sealed class JournalFront(IJournal journal, PersistenceOptions options, CircuitBreaker breaker, AbandonedWrites abandoned) : Actor
{
    private List<WriteRequest> _gathered = [];
    private List<WriteRequest>? _spare; // a completed batch's list, cleared, for the next one
    private int _writing; // batches in the store
    private int _gatheredEvents; // the events of _gathered
    private int _lastBatchEvents; // the events of the batch sent last
    private HashSet<string>? _writingIds; // their persistence ids, when several may be in the store at once

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    protected override void Receive(object message)
    {
        switch (message)
        {
            case WriteRequest request:
                _gathered.Add(request);
                _gatheredEvents += Size(request);
                break;
            case BatchCompleted completed:
                _writing--;
                if (_writingIds is not null)
                {
                    foreach (var request in completed.Batch)
                    {
                        _writingIds.Remove(request.Writes[0].PersistenceId);
                    }
                }

                Complete(completed.Batch, completed.Results, completed.Failure, completed.Started);
                break;
            default:
                Unhandled(message);
                break;
        }

        // Whatever the message, what is gathered goes out now unless more messages wait: the last of them sends it.
        if (MaySend() && !MoreToGather())
        {
            Flush();
        }
    }

    /// <summary>
    /// Whether a batch may go out now: always when none is in the store; beside others (up to
    /// <see cref="PersistenceOptions.MaxConcurrentWrites"/>) only once the gathered events are as many
    /// as the batch sent last. Otherwise the writers that come back one by one while a batch is in
    /// the store would go out in fragments, each paying a round trip and a commit: on PostgreSQL,
    /// 1,000 actors persisting in turn wrote 530 batches of 190 events on average (247 of 405 now).
    /// </summary>
    private bool MaySend() =>
        _gathered.Count > 0
        && (_writing == 0 || (_writing < options.MaxConcurrentWrites && _gatheredEvents >= _lastBatchEvents));

    /// <summary>
    /// Whether more messages (requests, most likely) wait in the mailbox and the gathered ones do not fill a
    /// batch yet: then they go out together once the mailbox is read, one journal call instead of
    /// one per request (a store that completes at once, like the in-memory one, otherwise never batches).
    /// </summary>
    private bool MoreToGather() =>
        _gatheredEvents < options.MaxBatchSize && ((ActorCell)Context).HasUserMessageWaiting;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Flush()
    {
        while (MaySend())
        {
            var batch = _writing == 0 ? TakeBatch(out var events) : TakeIdle(out events);
            _gatheredEvents -= events;
            if (batch.Count == 0)
            {
                return; // every gathered request waits for an id in the store
            }

            if (!abandoned.IsEmpty && !RefuseAbandonedIds(batch, ref events))
            {
                continue;
            }

            _lastBatchEvents = events;
            var writes = Flatten(batch);
            if (!breaker.AllowCall())
            {
                Respond(batch, null, new CircuitBreakerOpenException(breaker.RemainingOpen));
                continue;
            }

            if (PersistenceTelemetry.BatchSize.Enabled)
            {
                PersistenceTelemetry.BatchSize.Record(events, PersistenceTelemetry.SystemTag(Context.System.Name));
            }

            var started = PersistenceTelemetry.WriteDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
            ValueTask<IReadOnlyList<Exception?>> pending;
            try
            {
                pending = journal.WriteAsync(writes, CancellationToken.None);
            }
            catch (Exception exception)
            {
                Complete(batch, null, exception, started);
                continue;
            }

            if (pending.IsCompletedSuccessfully)
            {
                // The in-memory store, and any store that finished synchronously: no extra hop.
                Complete(batch, pending.Result, null, started);
                continue;
            }

            _writing++;
            if (options.MaxConcurrentWrites > 1)
            {
                _writingIds ??= new HashSet<string>(StringComparer.Ordinal);
                foreach (var request in batch)
                {
                    _writingIds.Add(request.Writes[0].PersistenceId);
                }
            }

            _ = AwaitAsync(pending, batch, started, Self, options.JournalCallTimeout, Context.System.TimeProvider, abandoned);
        }
    }

    /// <summary>
    /// The gathered requests whose persistence id has no batch in the store, in arrival order, up to
    /// the batch size; the others stay gathered, in order.
    /// </summary>
    private List<WriteRequest> TakeIdle(out int events)
    {
        events = 0;
        var batch = new List<WriteRequest>();
        var kept = 0;
        var full = false;
        for (var i = 0; i < _gathered.Count; i++)
        {
            var request = _gathered[i];
            var size = Size(request);
            full |= batch.Count > 0 && events + size > options.MaxBatchSize; // then the rest waits, in order
            if (full || _writingIds!.Contains(request.Writes[0].PersistenceId))
            {
                _gathered[kept++] = request;
                continue;
            }

            events += size;
            batch.Add(request);
        }

        _gathered.RemoveRange(kept, _gathered.Count - kept);
        return batch;
    }

    private static int Size(WriteRequest request)
    {
        var size = 0;
        for (var i = 0; i < request.Writes.Count; i++)
        {
            size += request.Writes[i].Events.Count;
        }

        return size;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private List<WriteRequest> TakeBatch(out int events)
    {
        events = 0;
        var count = 0;
        while (count < _gathered.Count)
        {
            var size = Size(_gathered[count]);

            // A request is answered as a whole, so it is never split: one larger than the limit goes alone.
            if (count > 0 && events + size > options.MaxBatchSize)
            {
                break;
            }

            events += size;
            count++;
        }

        if (count == _gathered.Count)
        {
            var all = _gathered;
            _gathered = _spare ?? [];
            _spare = null;
            return all;
        }

        var batch = _gathered.GetRange(0, count);
        _gathered.RemoveRange(0, count);
        return batch;
    }

    private static IReadOnlyList<AtomicWrite> Flatten(List<WriteRequest> batch)
    {
        if (batch.Count == 1)
        {
            return batch[0].Writes;
        }

        var writes = new List<AtomicWrite>(CountWrites(batch));
        foreach (var request in batch)
        {
            writes.AddRange(request.Writes);
        }

        return writes;
    }

    private static async Task AwaitAsync(
        ValueTask<IReadOnlyList<Exception?>> pending, List<WriteRequest> batch, long started, IActorRef self, TimeSpan timeout, TimeProvider time, AbandonedWrites abandoned)
    {
        var write = pending.AsTask();
        try
        {
            var results = await write.WaitAsync(timeout, time);
            self.Tell(new BatchCompleted(batch, results, null, started), null);
        }
        catch (TimeoutException)
        {
            // Recorded before the writers hear of it: a restarted writer's recovery must find it.
            abandoned.Add(batch.SelectMany(request => request.Writes).Select(atomic => atomic.PersistenceId), write);
            self.Tell(new BatchCompleted(batch, null, new JournalTimeoutException("write", timeout), started), null);
        }
        catch (Exception exception)
        {
            self.Tell(new BatchCompleted(batch, null, exception, started), null);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Complete(List<WriteRequest> batch, IReadOnlyList<Exception?>? results, Exception? failure, long started)
    {
        if (failure is null && results is not null && results.Count != CountWrites(batch))
        {
            failure = new InvalidOperationException(
                $"The journal returned {results.Count} results for {CountWrites(batch)} atomic writes; it breaks the IJournal contract.");
        }

        if (failure is null)
        {
            breaker.Succeeded();
        }
        else
        {
            breaker.Failed();
        }

        if (started != 0)
        {
            PersistenceTelemetry.RecordDuration(PersistenceTelemetry.WriteDuration, started, Context.System.Name, failure);
        }

        if (failure is null && PersistenceTelemetry.EventsWritten.Enabled)
        {
            PersistenceTelemetry.EventsWritten.Add(PersistenceTelemetry.CountStored(batch.SelectMany(r => r.Writes), results!), PersistenceTelemetry.SystemTag(Context.System.Name));
        }

        Respond(batch, results, failure);
        batch.Clear(); // answered: nothing refers to the list any more
        _spare = batch;
    }

    /// <summary>
    /// Answers the requests of <paramref name="batch"/> that write an id whose abandoned write is
    /// still running with a failure, and takes them out. False when none is left to write.
    /// </summary>
    private bool RefuseAbandonedIds(List<WriteRequest> batch, ref int events)
    {
        for (var i = batch.Count - 1; i >= 0; i--)
        {
            var request = batch[i];
            foreach (var write in request.Writes)
            {
                if (abandoned.Of(write.PersistenceId) is not null)
                {
                    events -= Size(request);
                    batch.RemoveAt(i);
                    request.Answer(null, new JournalTimeoutException($"write of '{write.PersistenceId}' that timed out earlier", options.JournalCallTimeout));
                    break;
                }
            }
        }

        return batch.Count > 0;
    }

    private static int CountWrites(List<WriteRequest> batch)
    {
        var count = 0;
        foreach (var request in batch)
        {
            count += request.Writes.Count;
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Respond(List<WriteRequest> batch, IReadOnlyList<Exception?>? results, Exception? failure)
    {
        var offset = 0;
        foreach (var request in batch)
        {
            IReadOnlyList<Exception?>? slice = null;
            if (failure is null)
            {
                if (batch.Count == 1)
                {
                    slice = results;
                }
                else
                {
                    slice = Slice(results!, offset, request.Writes.Count);
                }
            }

            offset += request.Writes.Count;
            request.Answer(slice, failure);
        }
    }

    /// <summary>The results of one request: a shared all-stored list when nothing in it was refused (the usual case), else a copy.</summary>
    private static IReadOnlyList<Exception?> Slice(IReadOnlyList<Exception?> results, int offset, int count)
    {
        var refused = false;
        for (var i = 0; i < count && !refused; i++)
        {
            refused = results[offset + i] is not null;
        }

        if (!refused)
        {
            return WriteResults.AllStored(count);
        }

        var own = new Exception?[count];
        for (var i = 0; i < count; i++)
        {
            own[i] = results[offset + i];
        }

        return own;
    }

    // Started: when the write began (a Stopwatch timestamp), or 0 when not measured.
    private sealed record BatchCompleted(List<WriteRequest> Batch, IReadOnlyList<Exception?>? Results, Exception? Failure, long Started);
}
