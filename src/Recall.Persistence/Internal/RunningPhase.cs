using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// Second of two phases (after <see cref="RecoveryPhase"/>). Handles commands; the Persist calls
/// of one command become one request to the journal front, and their handlers run in call order
/// when the store answers. Persisting is a sub-state: while a stashing handler (Persist, PersistAll,
/// Defer) is pending, new commands wait in a bounded internal stash, and run, in order, after the
/// last such handler.
/// </summary>
internal sealed class RunningPhase(EventSourcedRuntime runtime)
{
    private Queue<Invocation>? _pending;
    private int _pendingStashing;
    private List<AtomicWrite>? _batch;
    private Queue<int>? _inFlightWriteSizes;
    private Queue<Envelope>? _stash;

    public bool IsPersisting => _pendingStashing > 0;

    public void Receive(object message)
    {
        if (message is WriteResponse response)
        {
            OnWriteResponse(response);
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
        EnsureRunning(nameof(Persist));
        var invocation = new Invocation<TEvent>(@event, handler, stashing, deferred: false, runtime.Cell.CurrentEnvelope)
        {
            SequenceNumber = ++runtime.AssignedSequenceNumber,
        };
        (_batch ??= []).Add(new AtomicWrite(runtime.ToRepr(@event, invocation.SequenceNumber)));
        Enqueue(invocation);
    }

    public void PersistAll<TEvent>(IEnumerable<TEvent> events, Action<TEvent> handler, bool stashing)
        where TEvent : notnull
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(handler);
        EnsureRunning(nameof(PersistAll));
        var origin = runtime.Cell.CurrentEnvelope;
        var invocations = new List<Invocation>();
        var reprs = new List<PersistentRepr>();
        foreach (var @event in events)
        {
            ArgumentNullException.ThrowIfNull(@event, nameof(events));
            var invocation = new Invocation<TEvent>(@event, handler, stashing, deferred: false, origin)
            {
                SequenceNumber = runtime.AssignedSequenceNumber + invocations.Count + 1,
            };
            reprs.Add(runtime.ToRepr(@event, invocation.SequenceNumber));
            invocations.Add(invocation);
        }

        if (reprs.Count == 0)
        {
            return;
        }

        runtime.AssignedSequenceNumber += reprs.Count;
        (_batch ??= []).Add(new AtomicWrite(reprs));
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
        EnsureRunning(stashing ? nameof(Defer) : "DeferAsync");
        if (_pending is not { Count: > 0 })
        {
            // Nothing pending: the handler's turn is now.
            handler(@event);
            return;
        }

        Enqueue(new Invocation<TEvent>(@event, handler, stashing, deferred: true, runtime.Cell.CurrentEnvelope));
    }

    /// <summary>After a command or handler ran: send what it persisted.</summary>
    public void AfterHandler()
    {
        if (_batch is not { Count: > 0 } batch || runtime.IsStopping)
        {
            return;
        }

        var sizes = _inFlightWriteSizes ??= new Queue<int>();
        foreach (var write in batch)
        {
            sizes.Enqueue(write.Events.Count);
        }

        _batch = null;
        runtime.Persistence.JournalFront.Tell(new WriteRequest(runtime.Cell.Self, runtime.Incarnation, batch), null);
    }

    public void DropStash()
    {
        var stash = _stash;
        while (stash is { Count: > 0 })
        {
            var envelope = stash.Dequeue();
            runtime.Cell.System.DeadLetters.Tell(new DeadLetter(envelope.Message, envelope.Sender, runtime.Cell.Self), envelope.Sender);
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

    private void HandleCommand(object command)
    {
        runtime.Behavior.HandleCommand(command);
        AfterHandler();
    }

    private void Enqueue(Invocation invocation)
    {
        (_pending ??= new Queue<Invocation>()).Enqueue(invocation);
        if (invocation.Stashing)
        {
            _pendingStashing++;
        }
    }

    private void EnsureRunning(string operation)
    {
        if (runtime.IsRecovering)
        {
            throw new InvalidOperationException($"{operation} was called during recovery of '{runtime.PersistenceId}'; events are only persisted by commands.");
        }
    }

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

    private void OnWriteResponse(WriteResponse response)
    {
        if (response.Incarnation != runtime.Incarnation || runtime.IsStopping)
        {
            return;
        }

        var pending = _pending!;
        var sizes = _inFlightWriteSizes!;
        if (response.Failure is not null)
        {
            Fail(response.Failure);
            return;
        }

        var saved = runtime.Cell.CurrentEnvelope;
        try
        {
            foreach (var result in response.Results!)
            {
                RunDeferredHandlers(pending);
                var size = sizes.Dequeue();
                for (var i = 0; i < size; i++)
                {
                    var invocation = pending.Dequeue();
                    if (invocation.Stashing)
                    {
                        _pendingStashing--;
                    }

                    if (result is null)
                    {
                        runtime.LastSequenceNumber = invocation.SequenceNumber;
                        Run(invocation);
                    }
                    else if (result is SequenceConflictException)
                    {
                        Fail(result, invocation);
                        return;
                    }
                    else
                    {
                        EventSourcedRuntime.Log.PersistRejected(runtime.Logger, result, runtime.PersistenceId, invocation.SequenceNumber, invocation.Event.GetType().Name);
                        runtime.Behavior.OnPersistRejected(result, invocation.Event, invocation.SequenceNumber);
                    }
                }

                RunDeferredHandlers(pending);
            }
        }
        finally
        {
            runtime.Cell.CurrentEnvelope = saved;
        }

        AfterHandler();
        if (_pendingStashing == 0)
        {
            DrainStash();
        }
    }

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

        _pending?.Clear();
        _pendingStashing = 0;
        runtime.Stop();
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
