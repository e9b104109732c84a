using Recall.Persistence.Snapshots;

namespace Recall.TestKit.Persistence;

/// <summary>
/// A snapshot store that wraps another and, on demand, fails or stalls its calls or reports the
/// snapshot it loads as unreadable, so that tests can prove how an application handles
/// <c>SaveSnapshotFailure</c>, <c>DeleteSnapshotFailure</c>, <c>DeleteSnapshotsFailure</c> and
/// snapshot load failures during recovery (with and without <c>PersistenceOptions.SnapshotIsOptional</c>).
/// </summary>
/// <remarks>
/// <para>Wire it in place of the real store and keep a reference:</para>
/// <code>
/// FailingSnapshotStore snapshots = null!;
/// await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p
///     .UseInMemory()
///     .UseSnapshotStore(s => snapshots = new FailingSnapshotStore(new InMemorySnapshotStore(s)))));
/// snapshots.FailSaves(times: 1);   // the next SaveSnapshot replies SaveSnapshotFailure
/// </code>
/// <para>Faults select calls by <see cref="StoreOperation"/> (LoadSnapshot, SaveSnapshot,
/// DeleteSnapshot), optionally by persistence id and by count, and are tried in the order they
/// were added. A call passes the stall stage (it waits until released), then the fail stage, then
/// goes to the wrapped store. Every member is thread-safe.</para>
/// </remarks>
public sealed class FailingSnapshotStore : ISnapshotStore
{
    private readonly FaultInjector _faults = new("failing snapshot store");

    /// <summary>Wraps <paramref name="inner"/>, which handles whatever is not faulted.</summary>
    public FailingSnapshotStore(ISnapshotStore inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <summary>The wrapped store: read it directly to see what was really stored.</summary>
    public ISnapshotStore Inner { get; }

    /// <summary>The faults that are still registered (active, or used up but not removed), in the order they are tried.</summary>
    public IReadOnlyList<StoreFault> Faults => _faults.Faults;

    /// <summary>How many calls are stalled now, waiting for <see cref="ReleaseStalled"/>.</summary>
    public int StalledCount => _faults.StalledCount;

    /// <summary>The most calls that were stalled at the same moment so far: a bound on concurrency that holds for the whole test, not just when it looks.</summary>
    public int MaxStalledCount => _faults.MaxStalledCount;

    /// <summary>
    /// Makes snapshot loads of <paramref name="persistenceId"/> (any when null) throw, as a store
    /// that cannot be reached does: recovery fails, even with <c>SnapshotIsOptional</c>, because
    /// a store failure is not an unreadable snapshot.
    /// </summary>
    /// <param name="persistenceId">Whose loads fail; null for all.</param>
    /// <param name="times">How many loads fail; null until the fault is removed.</param>
    /// <param name="exception">What the load throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault FailLoads(string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(StoreOperation.LoadSnapshot, FaultKind.Fail, persistenceId, times, exception);

    /// <summary>
    /// Makes loads of <paramref name="persistenceId"/> (any when null) that find a snapshot throw a
    /// <see cref="SnapshotLoadException"/> for it, as a store does for a snapshot it can no longer
    /// deserialize: recovery then fails naming the snapshot, or, with <c>SnapshotIsOptional</c>,
    /// replays every event instead. The exception names the snapshot's CLR type as its manifest
    /// (this wrapper does not see the stored one). A load that finds nothing returns nothing (and
    /// still uses up one of <paramref name="times"/>).
    /// </summary>
    /// <param name="persistenceId">Whose snapshots are unreadable; null for all.</param>
    /// <param name="times">How many loads are affected; null until the fault is removed.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault MakeLoadsUnreadable(string? persistenceId = null, int? times = null) =>
        _faults.Add(StoreOperation.LoadSnapshot, FaultKind.Unreadable, persistenceId, times, exception: null);

    /// <summary>Makes snapshot saves of <paramref name="persistenceId"/> (any when null) throw: the actor gets <c>SaveSnapshotFailure</c>.</summary>
    /// <param name="persistenceId">Whose saves fail; null for all.</param>
    /// <param name="times">How many saves fail; null until the fault is removed.</param>
    /// <param name="exception">What the save throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault FailSaves(string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(StoreOperation.SaveSnapshot, FaultKind.Fail, persistenceId, times, exception);

    /// <summary>
    /// Makes snapshot deletes of <paramref name="persistenceId"/> (any when null), by metadata or by
    /// criteria, throw: the actor gets <c>DeleteSnapshotFailure</c> or <c>DeleteSnapshotsFailure</c>.
    /// </summary>
    /// <param name="persistenceId">Whose deletes fail; null for all.</param>
    /// <param name="times">How many deletes fail; null until the fault is removed.</param>
    /// <param name="exception">What the delete throws; by default a new <see cref="InjectedFaultException"/> each time.</param>
    /// <returns>The fault, to watch or remove.</returns>
    public StoreFault FailDeletes(string? persistenceId = null, int? times = null, Exception? exception = null) =>
        _faults.Add(StoreOperation.DeleteSnapshot, FaultKind.Fail, persistenceId, times, exception);

    /// <summary>
    /// Holds calls of <paramref name="operation"/> for <paramref name="persistenceId"/> (any when
    /// null) until <see cref="ReleaseStalled"/>; a stalled load tests the recovery timeout.
    /// </summary>
    /// <param name="operation">A snapshot operation: LoadSnapshot, SaveSnapshot or DeleteSnapshot.</param>
    /// <param name="persistenceId">Whose calls stall; null for all.</param>
    /// <param name="times">How many calls stall; null until the fault is removed.</param>
    /// <returns>The fault, to watch or remove.</returns>
    /// <exception cref="ArgumentException"><paramref name="operation"/> is a journal operation.</exception>
    public StoreFault Stall(StoreOperation operation, string? persistenceId = null, int? times = null) =>
        _faults.Add(RequireSnapshot(operation), FaultKind.Stall, persistenceId, times, exception: null);

    /// <summary>Removes every fault. Calls already stalled stay stalled until <see cref="ReleaseStalled"/>.</summary>
    public void ClearFaults() => _faults.Clear();

    /// <summary>Lets up to <paramref name="max"/> stalled calls continue, oldest first.</summary>
    /// <param name="max">The most calls to release; all by default.</param>
    /// <returns>How many calls were released.</returns>
    public int ReleaseStalled(int max = int.MaxValue) => _faults.Release(max);

    /// <summary>Completes once at least <paramref name="count"/> calls are stalled at the same time.</summary>
    /// <param name="count">How many stalled calls to wait for.</param>
    /// <param name="timeout">How long to wait; <see cref="TestKitSettings.DefaultTimeout"/> by default.</param>
    /// <exception cref="TestKitException">Fewer calls were stalled when the timeout expired.</exception>
    public Task WaitForStalledAsync(int count = 1, TimeSpan? timeout = null) => _faults.WaitForStalledAsync(count, timeout);

    /// <summary>How many calls of <paramref name="operation"/> reached this store, faulted or not.</summary>
    public long CallCount(StoreOperation operation) => _faults.CallCount(operation);

    /// <inheritdoc />
    public async ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await BeforeCallAsync(StoreOperation.LoadSnapshot, persistenceId, cancellationToken);
        var unreadable = _faults.Take(StoreOperation.LoadSnapshot, FaultKind.Unreadable, persistenceId);
        var selected = await Inner.LoadAsync(persistenceId, criteria, cancellationToken);
        if (unreadable is not null && selected is not null)
        {
            throw new SnapshotLoadException(
                selected.Metadata,
                selected.Snapshot.GetType().Name,
                new InjectedFaultException(StoreOperation.LoadSnapshot, FaultKind.Unreadable, persistenceId));
        }

        return selected;
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        await BeforeCallAsync(StoreOperation.SaveSnapshot, metadata.PersistenceId, cancellationToken);
        await Inner.SaveAsync(metadata, snapshot, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        await BeforeCallAsync(StoreOperation.DeleteSnapshot, metadata.PersistenceId, cancellationToken);
        await Inner.DeleteAsync(metadata, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await BeforeCallAsync(StoreOperation.DeleteSnapshot, persistenceId, cancellationToken);
        await Inner.DeleteAsync(persistenceId, criteria, cancellationToken);
    }

    private static StoreOperation RequireSnapshot(StoreOperation operation) =>
        operation is StoreOperation.LoadSnapshot or StoreOperation.SaveSnapshot or StoreOperation.DeleteSnapshot
            ? operation
            : throw new ArgumentException($"{operation} is not a snapshot store operation; fault it with a FailingJournal.", nameof(operation));

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
}
