using System.Runtime.CompilerServices;
using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// Second of two phases (after <see cref="RecoveryPhase"/>, made from what it
/// <see cref="Recovered"/>). Handles commands; the Persist calls of one command become one request
/// to the journal front, and their handlers run in call order when the store answers. Persisting
/// is a sub-state: while a stashing handler (Persist, PersistAll, Defer) is pending, new commands
/// wait in a bounded internal stash, and run, in order, after the last such handler.
/// </summary>
/// <remarks>
/// One queue holds the handlers waiting, in call order: those of persisted events (the last of each
/// atomic write marked, <see cref="Invocation.EndsWrite"/>), and deferred ones between them. Each
/// write request in flight is counted (<see cref="PendingWrites"/>, read by a graceful shutdown
/// from another thread), and numbered, so that <see cref="PersistTracing"/>, made once anyone
/// listens, finds the trace of the request an answer is for.
/// </remarks>
internal sealed class RunningPhase(EventSourcedRuntime runtime, Recovered recovered)
{
    private long _assignedSequenceNumber = recovered.SequenceNumber; // the next persisted event's, minus one
    private Queue<Invocation>? _pending;  // the handlers waiting, in call order
    private int _pendingStashing;
    private List<AtomicWrite>? _batch;   // persisted, not yet sent
    private int _batchEvents;
    private Queue<Envelope>? _stash;
    private bool _stopWhenWritten;       // a GracefulStop arrived: stop once no write is in flight
    private int _inFlightRequests;       // write requests of this incarnation not yet answered and handled
    private long _requestsSent;          // numbers the requests, so that a trace finds its answer
    private long _requestsAnswered;
    private PersistTracing? _tracing;    // once anyone listened

    /// <summary>The sequence number of the last event stored and applied.</summary>
    public long LastSequenceNumber { get; private set; } = recovered.SequenceNumber;

    /// <summary>The sequence number of the snapshot recovery started from, or 0.</summary>
    public long SnapshotSequenceNumber { get; } = recovered.SnapshotSequenceNumber;

    /// <summary>Write requests sent and not yet answered and handled; safe to read from any thread (0 once the actor stops).</summary>
    public int PendingWrites => runtime.IsStopping ? 0 : Volatile.Read(ref _inFlightRequests);

    private PersistTracing Tracing => _tracing ??= new PersistTracing(runtime, this);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Receive(object message)
    {
        if (message is WriteRequest answered)
        {
            OnAnswered(answered);
            return;
        }

        if (_pendingStashing > 0 || _stash is { Count: > 0 })
        {
            StashCurrent();
            if (_pendingStashing == 0)
            {
                DrainStash();
            }

            return;
        }

        HandleCommand(message);
    }

    public void Persist<TEvent>(TEvent @event, Action<TEvent> handler, bool stashing)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(@event);
        ArgumentNullException.ThrowIfNull(handler);
        Persist(new Invocation<TEvent>(@event, handler, stashing, deferred: false, runtime.Cell.CurrentEnvelope));
    }

    /// <summary>Persists the event of <paramref name="invocation"/> as an atomic write of its own.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Persist(Invocation invocation)
    {
        invocation.SequenceNumber = ++_assignedSequenceNumber;
        invocation.EndsWrite = true;
        Add(new AtomicWrite(runtime.ToRepr(invocation.Event, invocation.SequenceNumber)) { FencingToken = runtime.FencingToken }, 1);
        Enqueue(invocation);
    }

    public void PersistAll<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler, bool stashing)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(handler);
        var origin = runtime.Cell.CurrentEnvelope;
        var invocations = new List<Invocation>();
        foreach (var @event in events)
        {
            ArgumentNullException.ThrowIfNull(@event, nameof(events));
            invocations.Add(new Invocation<TEvent>(@event, handler, stashing, deferred: false, origin));
        }

        PersistAll(invocations);
    }

    /// <summary>Persists the events of <paramref name="invocations"/> as one atomic write (nothing when there are none).</summary>
    public void PersistAll(List<Invocation> invocations)
    {
        if (invocations.Count == 0)
        {
            return;
        }

        var reprs = new List<PersistentRepr>(invocations.Count);
        foreach (var invocation in invocations)
        {
            invocation.SequenceNumber = _assignedSequenceNumber + reprs.Count + 1;
            reprs.Add(runtime.ToRepr(invocation.Event, invocation.SequenceNumber));
        }

        _assignedSequenceNumber += reprs.Count;
        invocations[^1].EndsWrite = true;
        Add(new AtomicWrite(reprs) { FencingToken = runtime.FencingToken }, reprs.Count);
        foreach (var invocation in invocations)
        {
            Enqueue(invocation);
        }
    }

    public void Defer<TEvent>(TEvent @event, Action<TEvent> handler, bool stashing)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(@event);
        ArgumentNullException.ThrowIfNull(handler);
        if (_pending is not { Count: > 0 })
        {
            // Nothing pending: the handler's turn is now.
            handler(@event);
            return;
        }

        Enqueue(new Invocation<TEvent>(@event, handler, stashing, deferred: true, runtime.Cell.CurrentEnvelope));
    }

    /// <summary>
    /// After a command or handler ran: send what it persisted. While an earlier request is in flight
    /// (<paramref name="answered"/>: besides the one being answered now), what later commands persist
    /// waits and goes out as one request when that one is answered, or once it holds
    /// <see cref="PersistenceOptions.MaxBatchSize"/> writes: fewer, larger requests, which the journal
    /// front would have put into one batch anyway (an id's writes never overlap).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SendPersisted(bool answered = false)
    {
        if (_batch is not { Count: > 0 } batch || runtime.IsStopping)
        {
            return;
        }

        if (_inFlightRequests > (answered ? 1 : 0) && _batchEvents < runtime.Options.MaxBatchSize && !PersistenceTelemetry.IsPersistObserved)
        {
            return;
        }

        Send(batch);
    }

    /// <summary>Adds a write to what is sent next; what waits goes first when the write would take it past <see cref="PersistenceOptions.MaxBatchSize"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Add(AtomicWrite write, int events)
    {
        var batch = _batch ??= [];
        if (batch.Count > 0 && _batchEvents + events > runtime.Options.MaxBatchSize && !runtime.IsStopping)
        {
            Send(batch);
        }

        batch.Add(write);
        _batchEvents += events;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Send(List<AtomicWrite> batch)
    {
        // The request gets an array of its own; the list stays for the next handler.
        var writes = batch.ToArray();
        batch.Clear();
        _batchEvents = 0;
        _requestsSent++;
        if (PersistenceTelemetry.IsPersistObserved)
        {
            Tracing.Sent(_requestsSent, writes);
        }

        // Counted before it is sent, so a graceful shutdown never sees nothing pending while it is.
        Volatile.Write(ref _inFlightRequests, _inFlightRequests + 1);
        runtime.Persistence.JournalFront.Tell(new WriteRequest(runtime.Cell.Self, runtime.Incarnation, writes), null);
    }

    /// <summary>The actor stops or restarts: the requests in flight will not be handled by this incarnation.</summary>
    public void AbandonWrites(Exception? cause = null)
    {
        Volatile.Write(ref _inFlightRequests, 0);
        if (_pending is { Count: > 0 } pending)
        {
            // Their handlers will not run in this incarnation: an ask waiting on one learns it now.
            var reason = cause is null
                ? "the actor stopped before its write was answered, so the event may or may not be stored"
                : $"its write failed ({cause.GetType().Name}: {cause.Message}) and the actor stopped";
            foreach (var invocation in pending)
            {
                ActorSystem.FailAsk(invocation.Origin.Sender, runtime.Cell.Self, invocation.Origin.Message ?? invocation.Event, reason, cause);
            }

            pending.Clear();
        }

        _pendingStashing = 0;
        _tracing?.Abandon(cause);
    }

    public void DropStash()
    {
        var stash = _stash;
        while (stash is { Count: > 0 })
        {
            var envelope = stash.Dequeue();
            runtime.Cell.System.PublishDeadLetter(new DeadLetter(envelope.Message, envelope.Sender, runtime.Cell.Self), runtime.Cell.StopReason);
        }
    }

    public void ReturnStashToMailbox()
    {
        if (_stash is { Count: > 0 } stash)
        {
            runtime.Cell.Prepend([.. stash]);
            stash.Clear();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void HandleCommand(object command)
    {
        if (ReferenceEquals(command, GracefulStop.Instance))
        {
            // The stash is empty here, so every stashing write was handled; PersistAsync writes may
            // still be in flight: stop once they are.
            _stopWhenWritten = true;
            StopIfWritten();
            return;
        }

        if (runtime.Persistence.IsDraining || _stopWhenWritten)
        {
            // A graceful shutdown (or stop) waits for the writes in flight; it must not be given new ones.
            var envelope = runtime.Cell.CurrentEnvelope;
            runtime.Cell.System.DeadLetters.Tell(new DeadLetter(command, envelope.Sender, runtime.Cell.Self), envelope.Sender);
            return;
        }

        if (PersistenceTelemetry.Source.HasListeners())
        {
            Tracing.RunCommand(command);
            return;
        }

        RunCommand(command);
    }

    /// <summary>Runs the actor's command handler, then sends what it persisted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void RunCommand(object command)
    {
        runtime.Behavior.HandleCommand(command);
        SendPersisted();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Enqueue(Invocation invocation)
    {
        (_pending ??= new Queue<Invocation>()).Enqueue(invocation);
        if (invocation.Stashing)
        {
            _pendingStashing++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void StashCurrent()
    {
        var stash = _stash ??= new Queue<Envelope>();
        var envelope = runtime.Cell.CurrentEnvelope;
        if (stash.Count < runtime.Options.InternalStashCapacity)
        {
            stash.Enqueue(envelope);
            return;
        }

        if (runtime.Options.InternalStashOverflow == StashOverflowStrategy.Drop)
        {
            runtime.Cell.System.DeadLetters.Tell(new DeadLetter(envelope.Message, envelope.Sender, runtime.Cell.Self), envelope.Sender);
            return;
        }

        throw new StashOverflowException(runtime.Cell.Self.Path, runtime.Options.InternalStashCapacity);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void OnAnswered(WriteRequest answered)
    {
        if (answered.Incarnation != runtime.Incarnation || runtime.IsStopping)
        {
            return;
        }

        var request = ++_requestsAnswered;
        var failure = _tracing is { } tracing && tracing.TryTake(request, out var trace)
            ? tracing.HandleAnswered(answered, trace)
            : HandleAnswered(answered); // nobody listened when the request was sent: the usual case
        if (failure is null && _pendingStashing == 0)
        {
            DrainStash();
        }
    }

    private void StopIfWritten()
    {
        if (_stopWhenWritten && _inFlightRequests == 0 && !runtime.IsStopping)
        {
            runtime.Stop();
        }
    }

    /// <summary>Handles an answered request (<see cref="RunAnsweredHandlers"/>), then stops counting it as in flight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Exception? HandleAnswered(WriteRequest answered)
    {
        try
        {
            return RunAnsweredHandlers(answered);
        }
        finally
        {
            // Answered and handled: the request no longer counts. After what its handlers persisted
            // was counted, so the count does not touch zero in between; a failure has reset it already.
            if (_inFlightRequests > 0)
            {
                Volatile.Write(ref _inFlightRequests, _inFlightRequests - 1);
            }

            StopIfWritten();
        }
    }

    /// <summary>
    /// Runs the handlers of one answered request and sends what they persisted. Returns the failure
    /// that stopped the actor (then nothing more is handled), or null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Exception? RunAnsweredHandlers(WriteRequest answered)
    {
        var pending = _pending!;
        if (answered.Failure is not null)
        {
            Fail(answered.Failure);
            return answered.Failure;
        }

        var saved = runtime.Cell.CurrentEnvelope;
        try
        {
            var results = answered.Results!;
            for (var r = 0; r < results.Count; r++)
            {
                var result = results[r];
                RunDeferredHandlers(pending);
                Invocation invocation;
                do
                {
                    invocation = pending.Dequeue();
                    if (invocation.Stashing)
                    {
                        _pendingStashing--;
                    }

                    if (result is null)
                    {
                        LastSequenceNumber = invocation.SequenceNumber;
                        Run(invocation);
                    }
                    else if (result is WriterConflictException)
                    {
                        Fail(result, invocation);
                        return result;
                    }
                    else
                    {
                        EventSourcedRuntime.Log.PersistRejected(runtime.Logger, result, runtime.PersistenceId, invocation.SequenceNumber, invocation.Event.GetType().Name);
                        runtime.Behavior.OnPersistRejected(result, invocation.Event, invocation.SequenceNumber);
                    }
                }
                while (!invocation.EndsWrite);

                RunDeferredHandlers(pending);
            }
        }
        finally
        {
            runtime.Cell.CurrentEnvelope = saved;
        }

        SendPersisted(answered: true);
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunDeferredHandlers(Queue<Invocation> pending)
    {
        while (pending.TryPeek(out var head) && head.Deferred)
        {
            pending.Dequeue();
            if (head.Stashing)
            {
                _pendingStashing--;
            }

            Run(head);
        }
    }

    private void Run(Invocation invocation)
    {
        runtime.Cell.CurrentEnvelope = invocation.Origin;
        invocation.Invoke();
    }

    private void Fail(Exception cause, Invocation? failed = null)
    {
        failed ??= FirstPersisted();
        if (failed is not null)
        {
            EventSourcedRuntime.Log.PersistFailed(runtime.Logger, cause, runtime.PersistenceId, failed.SequenceNumber, failed.Event.GetType().Name);
            runtime.Behavior.OnPersistFailure(cause, failed.Event, failed.SequenceNumber);
        }

        AbandonWrites(cause);
        runtime.Stop($"a write failed ({cause.GetType().Name}: {cause.Message})");
    }

    private Invocation? FirstPersisted()
    {
        foreach (var invocation in _pending ?? [])
        {
            if (!invocation.Deferred)
            {
                return invocation;
            }
        }

        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrainStash()
    {
        var stash = _stash;
        while (_pendingStashing == 0 && stash is { Count: > 0 } && !runtime.IsStopping)
        {
            var envelope = stash.Dequeue();
            runtime.Cell.CurrentEnvelope = envelope;
            HandleCommand(envelope.Message);
        }
    }
}
