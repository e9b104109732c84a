using System.Runtime.CompilerServices;
using Recall.Persistence.Journal;

namespace Recall.TestKit.Persistence;

/// <summary>
/// A journal that wraps another and, on demand, fails, rejects or stalls its calls, so that tests
/// can prove how an application handles a store in trouble: persist failures (the actor stops),
/// rejections (the actor goes on), recovery failures, and timeouts.
/// </summary>
/// <remarks>
/// <para>Wire it in place of the real journal and keep a reference:</para>
/// <code>
/// FailingJournal journal = null!;
/// await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p
///     .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))
///     .UseSnapshotStore(s => new InMemorySnapshotStore(s))));
/// journal.FailWrites("wallet-alice", times: 1);   // the next write of wallet-alice fails
/// </code>
/// <para>Faults select calls by <see cref="StoreOperation"/>, optionally by persistence id, and
/// optionally by count ("the next N writes of X"); without a count a fault applies until it is
/// removed. Faults are tried in the order they were added and the first match applies. Writes are
/// matched per atomic write, so a fault "of X" counts the atomic writes of X it hit.</para>
/// <para>A write call passes three stages: stall (it waits until released), then fail (the whole
/// call throws, like a database that went away: every actor whose events share the batch fails,
/// and nothing of the batch is stored), then reject (only the matched atomic writes get an
/// exception as their result; the rest of the batch is passed on to the wrapped journal). A
/// replay, highest-sequence-number read or delete passes the stall and fail stages.</para>
/// <para>The runtime's journal front writes one batch at a time, so one stalled write holds back
/// the writes of every actor of the system until it is released or times out
/// (<c>PersistenceOptions.JournalCallTimeout</c>); a released write continues to the wrapped
/// journal even if the runtime gave up on it, as a slow database would.</para>
/// <para>Every member is thread-safe.</para>
/// </remarks>
public sealed class FailingJournal : IJournal
{
    private readonly FaultInjector _faults = new("failing journal");

    /// <summary>Wraps <paramref name="inner"/>, which stores and replays whatever is not faulted.</summary>
    public FailingJournal(IJournal inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>The wrapped journal: read it directly to see what was really stored.</summary>
    public IJournal Inner { get; }

    /// <summary>The faults that are still registered (active, or used up but not removed), in the order they are tried.</summary>
    public IReadOnlyList<StoreFault> Faults => _faults.Faults;

    /// <summary>How many calls are stalled now, waiting for <see cref="ReleaseStalled"/>.</summary>
    public int StalledCount => _faults.StalledCount;

    /// <summary>The most calls that were stalled at the same moment so far: a bound on concurrency that holds for the whole test, not just when it looks.</summary>
    public int MaxStalledCount => _faults.MaxStalledCount;

    /// <summary>
    /// Makes write calls that contain an atomic write of <paramref name="persistenceId"/> (any when
    /// null) throw, as a failing database does: the whole call fails, nothing of it is stored, and
    /// every persisting actor in it stops after <c>OnPersistFailure</c>.
    /// </summary>
    /// <param name="persistenceId">Whose writes fail; null for all.</param>
    /// <param name="times">How many matching atomic writes fail; null until the fault is removed.</param>
    /// <param name="exception">What the call throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault FailWrites(string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(StoreOperation.Write, FaultKind.Fail, persistenceId, times, exception);

    /// <summary>
    /// Rejects the atomic writes of <paramref name="persistenceId"/> (any when null): each gets an
    /// exception as its result and is not stored, the rest of the batch is, and the persisting
    /// actor gets <c>OnPersistRejected</c> and keeps running.
    /// </summary>
    /// <param name="persistenceId">Whose writes are rejected; null for all.</param>
    /// <param name="times">How many matching atomic writes are rejected; null until the fault is removed.</param>
    /// <param name="exception">The rejection; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault RejectWrites(string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(StoreOperation.Write, FaultKind.Reject, persistenceId, times, exception);

    /// <summary>
    /// Holds write calls that contain an atomic write of <paramref name="persistenceId"/> (any when
    /// null) until <see cref="ReleaseStalled"/>; then they continue through the fail and reject
    /// faults to the wrapped journal. Use it to test the journal call timeout, or as a gate to look
    /// at an actor while its write is in flight.
    /// </summary>
    /// <param name="persistenceId">Whose writes stall; null for all.</param>
    /// <param name="times">How many matching atomic writes stall; null until the fault is removed.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault StallWrites(string? persistenceId = null, int? times = null) =>
        _faults.Add(StoreOperation.Write, FaultKind.Stall, persistenceId, times, exception: null);

    /// <summary>
    /// Makes replays of <paramref name="persistenceId"/> (any when null) throw after
    /// <paramref name="afterEvents"/> events, so that recovery fails. A replay with fewer events
    /// ends normally (and still uses up one of <paramref name="times"/>).
    /// </summary>
    /// <param name="persistenceId">Whose replays fail; null for all.</param>
    /// <param name="times">How many replays fail; null until the fault is removed.</param>
    /// <param name="exception">What the replay throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <param name="afterEvents">How many events are replayed before the failure; 0 fails at once.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault FailReplays(string? persistenceId = null, int? times = null, Exception? exception = null, long afterEvents = 0) =>
        _faults.Add(StoreOperation.Replay, FaultKind.Fail, persistenceId, times, exception, afterEvents);

    /// <summary>
    /// Holds replays of <paramref name="persistenceId"/> (any when null) after
    /// <paramref name="afterEvents"/> events until <see cref="ReleaseStalled"/>; then they go on
    /// normally. Use it to test the recovery timeout, the limit of concurrent recoveries, or what
    /// an actor does with commands that arrive while it recovers.
    /// </summary>
    /// <param name="persistenceId">Whose replays stall; null for all.</param>
    /// <param name="times">How many replays stall; null until the fault is removed.</param>
    /// <param name="afterEvents">How many events are replayed before the stall; 0 stalls at once.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault StallReplays(string? persistenceId = null, int? times = null, long afterEvents = 0) =>
        _faults.Add(StoreOperation.Replay, FaultKind.Stall, persistenceId, times, exception: null, afterEvents);

    /// <summary>
    /// Makes calls of <paramref name="operation"/> for <paramref name="persistenceId"/> (any when
    /// null) throw: for example <see cref="StoreOperation.DeleteEvents"/> to test
    /// <c>DeleteMessagesFailure</c>, or <see cref="StoreOperation.ReadHighestSequenceNumber"/> to
    /// fail the last step of recovery.
    /// </summary>
    /// <param name="operation">A journal operation: Write, Replay, ReadHighestSequenceNumber or DeleteEvents.</param>
    /// <param name="persistenceId">Whose calls fail; null for all.</param>
    /// <param name="times">How many calls fail (atomic writes, for writes); null until the fault is removed.</param>
    /// <param name="exception">What the call throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    /// <exception cref="ArgumentException"><paramref name="operation"/> is a snapshot store operation.</exception>
    public StoreFault Fail(StoreOperation operation, string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(RequireJournal(operation), FaultKind.Fail, persistenceId, times, exception);

    /// <summary>
    /// Holds calls of <paramref name="operation"/> for <paramref name="persistenceId"/> (any when
    /// null) until <see cref="ReleaseStalled"/>.
    /// </summary>
    /// <param name="operation">A journal operation: Write, Replay, ReadHighestSequenceNumber or DeleteEvents.</param>
    /// <param name="persistenceId">Whose calls stall; null for all.</param>
    /// <param name="times">How many calls stall (atomic writes, for writes); null until the fault is removed.</param>
    /// <returns>The fault, to watch or remove.</returns>
    /// <exception cref="ArgumentException"><paramref name="operation"/> is a snapshot store operation.</exception>
    public StoreFault Stall(StoreOperation operation, string? persistenceId = null, int? times = null) =>
        _faults.Add(RequireJournal(operation), FaultKind.Stall, persistenceId, times, exception: null);

    /// <summary>Removes every fault. Calls already stalled stay stalled until <see cref="ReleaseStalled"/>.</summary>
    public void ClearFaults() => _faults.Clear();

    /// <summary>
    /// Lets up to <paramref name="max"/> stalled calls continue, oldest first; each goes on through
    /// the remaining faults to the wrapped journal.
    /// </summary>
    /// <param name="max">The most calls to release; all by default.</param>
    /// <returns>How many calls were released.</returns>
    public int ReleaseStalled(int max = int.MaxValue) => _faults.Release(max);

    /// <summary>
    /// Completes once at least <paramref name="count"/> calls are stalled at the same time, for
    /// example to know that a write is being held before sending the next command.
    /// </summary>
    /// <param name="count">How many stalled calls to wait for.</param>
    /// <param name="timeout">How long to wait; <see cref="TestKitSettings.DefaultTimeout"/> by default.</param>
    /// <exception cref="TestKitException">Fewer calls were stalled when the timeout expired.</exception>
    public Task WaitForStalledAsync(int count = 1, TimeSpan? timeout = null) => _faults.WaitForStalledAsync(count, timeout);

    /// <summary>How many calls of <paramref name="operation"/> reached this journal, faulted or not (a replay counts when its enumeration starts).</summary>
    public long CallCount(StoreOperation operation) => _faults.CallCount(operation);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);
        _faults.CountCall(StoreOperation.Write);

        string? stalled = null;
        foreach (var write in writes)
        {
            if (_faults.Take(StoreOperation.Write, FaultKind.Stall, write.PersistenceId) is not null)
            {
                stalled ??= write.PersistenceId;
            }
        }

        if (stalled is not null)
        {
            await _faults.StallAsync(StoreOperation.Write, stalled, cancellationToken);
        }

        Exception? failure = null;
        foreach (var write in writes)
        {
            if (_faults.Take(StoreOperation.Write, FaultKind.Fail, write.PersistenceId) is { } fault)
            {
                failure ??= fault.CreateException(write.PersistenceId);
            }
        }

        if (failure is not null)
        {
            throw failure;
        }

        Exception?[]? rejections = null;
        for (var i = 0; i < writes.Count; i++)
        {
            if (_faults.Take(StoreOperation.Write, FaultKind.Reject, writes[i].PersistenceId) is { } fault)
            {
                (rejections ??= new Exception?[writes.Count])[i] = fault.CreateException(writes[i].PersistenceId);
            }
        }

        if (rejections is null)
        {
            return await Inner.WriteAsync(writes, cancellationToken);
        }

        // Pass on what was not rejected, in order, and put its results back in place.
        var passed = new List<AtomicWrite>();
        var positions = new List<int>();
        for (var i = 0; i < writes.Count; i++)
        {
            if (rejections[i] is null)
            {
                passed.Add(writes[i]);
                positions.Add(i);
            }
        }

        if (passed.Count > 0)
        {
            var results = await Inner.WriteAsync(passed, cancellationToken);
            if (results.Count != passed.Count)
            {
                throw new InvalidOperationException($"The wrapped journal returned {results.Count} results for {passed.Count} atomic writes.");
            }

            for (var i = 0; i < positions.Count; i++)
            {
                rejections[positions[i]] = results[i];
            }
        }

        return rejections;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<PersistentRepr> ReplayAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return ReplayCoreAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await BeforeCallAsync(StoreOperation.ReadHighestSequenceNumber, persistenceId, cancellationToken);
        return await Inner.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await BeforeCallAsync(StoreOperation.DeleteEvents, persistenceId, cancellationToken);
        await Inner.DeleteToAsync(persistenceId, toSequenceNumber, cancellationToken);
    }

    private static StoreOperation RequireJournal(StoreOperation operation) =>
        operation is StoreOperation.Write or StoreOperation.Replay or StoreOperation.ReadHighestSequenceNumber or StoreOperation.DeleteEvents
            ? operation
            : throw new ArgumentException($"{operation} is not a journal operation; fault it with a FailingSnapshotStore.", nameof(operation));

    private async ValueTask BeforeCallAsync(StoreOperation operation, string persistenceId, CancellationToken cancellationToken)
    {
        _faults.CountCall(operation);
        if (_faults.Take(operation, FaultKind.Stall, persistenceId) is not null)
        {
            await _faults.StallAsync(operation, persistenceId, cancellationToken);
        }

        if (_faults.Take(operation, FaultKind.Fail, persistenceId) is { } fault)
        {
            throw fault.CreateException(persistenceId);
        }
    }

    private async IAsyncEnumerable<PersistentRepr> ReplayCoreAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _faults.CountCall(StoreOperation.Replay);
        var stall = _faults.Take(StoreOperation.Replay, FaultKind.Stall, persistenceId);
        var fail = _faults.Take(StoreOperation.Replay, FaultKind.Fail, persistenceId);
        long replayed = 0;
        await StrikeAsync();
        await foreach (var repr in Inner.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken).WithCancellation(cancellationToken))
        {
            yield return repr;
            replayed++;
            await StrikeAsync();
        }

        async ValueTask StrikeAsync()
        {
            if (stall is not null && stall.AfterEvents == replayed)
            {
                await _faults.StallAsync(StoreOperation.Replay, persistenceId, cancellationToken);
            }

            if (fail is not null && fail.AfterEvents == replayed)
            {
                throw fail.CreateException(persistenceId);
            }
        }
    }
}
