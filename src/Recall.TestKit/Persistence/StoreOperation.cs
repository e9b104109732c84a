namespace Recall.TestKit.Persistence;

/// <summary>A call of a journal or snapshot store that a <see cref="FailingJournal"/> or <see cref="FailingSnapshotStore"/> can fault.</summary>
public enum StoreOperation
{
    /// <summary><c>IJournal.WriteAsync</c>: storing events.</summary>
    Write,

    /// <summary><c>IJournal.ReplayAsync</c>: reading events back during recovery.</summary>
    Replay,

    /// <summary><c>IJournal.ReadHighestSequenceNumberAsync</c>: the last step of recovery.</summary>
    ReadHighestSequenceNumber,

    /// <summary><c>IJournal.DeleteToAsync</c>: what <c>DeleteMessages</c> calls.</summary>
    DeleteEvents,

    /// <summary><c>ISnapshotStore.LoadAsync</c>: the first step of recovery.</summary>
    LoadSnapshot,

    /// <summary><c>ISnapshotStore.SaveAsync</c>: what <c>SaveSnapshot</c> calls.</summary>
    SaveSnapshot,

    /// <summary>Both <c>ISnapshotStore.DeleteAsync</c> overloads: what <c>DeleteSnapshot</c> and <c>DeleteSnapshots</c> call.</summary>
    DeleteSnapshot,
}

/// <summary>What a <see cref="StoreFault"/> does to the calls it matches.</summary>
public enum FaultKind
{
    /// <summary>
    /// The call throws, as a store does when its database or disk fails. A failed write fails the
    /// whole <c>WriteAsync</c> call, so every actor whose events were in that batch sees a persist
    /// failure and stops.
    /// </summary>
    Fail,

    /// <summary>
    /// Writes only: the matched atomic write gets an exception as its result while the rest of the
    /// batch is stored, as a store does for an event it cannot serialize or that is too large. The
    /// persisting actor sees a rejection and keeps running.
    /// </summary>
    Reject,

    /// <summary>
    /// The call does not complete until <c>ReleaseStalled</c> lets it continue (or its cancellation
    /// token is cancelled): a hung database, for testing timeouts, or a gate that holds a call while
    /// a test looks at what happens meanwhile.
    /// </summary>
    Stall,

    /// <summary>
    /// Snapshot loads only: the snapshot the store would return is reported unreadable with a
    /// <c>SnapshotLoadException</c>, as a store does for a snapshot whose type is no longer known.
    /// </summary>
    Unreadable,
}

/// <summary>The exception a <see cref="StoreFault"/> throws or returns when the test gave none.</summary>
public sealed class InjectedFaultException : Exception
{
    /// <summary>Creates the exception for an injected fault of <paramref name="operation"/> on <paramref name="persistenceId"/>.</summary>
    public InjectedFaultException(StoreOperation operation, FaultKind kind, string persistenceId)
        : base($"Injected {(kind == FaultKind.Reject ? "rejection" : "failure")} of {operation} for '{persistenceId}' (Recall.TestKit fault injection).")
    {
        Operation = operation;
        Kind = kind;
        PersistenceId = persistenceId;
    }

    /// <summary>The faulted call.</summary>
    public StoreOperation Operation { get; }

    /// <summary>Whether the call failed (<see cref="FaultKind.Fail"/>) or a write was rejected (<see cref="FaultKind.Reject"/>).</summary>
    public FaultKind Kind { get; }

    /// <summary>The persistence id the faulted call was about.</summary>
    public string PersistenceId { get; }
}
