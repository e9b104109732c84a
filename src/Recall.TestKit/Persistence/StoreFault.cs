namespace Recall.TestKit.Persistence;

/// <summary>
/// One fault added to a <see cref="FailingJournal"/> or <see cref="FailingSnapshotStore"/>: which
/// calls it matches (operation and, optionally, persistence id), what it does to them, and how many
/// more times. Returned by the methods that add faults; keep it to watch <see cref="Hits"/> or to
/// <see cref="Remove"/> the fault early.
/// </summary>
/// <remarks>
/// Faults are tried in the order they were added; the first active one that matches a call (or,
/// for writes, an atomic write) applies and uses up one of its <see cref="Times"/>. An exhausted or
/// removed fault no longer applies. All members are thread-safe.
/// </remarks>
public sealed class StoreFault
{
    private readonly FaultInjector _owner;
    private readonly Exception? _exception;
    private int _hits;
    private bool _removed;

    internal StoreFault(FaultInjector owner, StoreOperation operation, FaultKind kind, string? persistenceId, int? times, Exception? exception, long afterEvents)
    {
        _owner = owner;
        Operation = operation;
        Kind = kind;
        PersistenceId = persistenceId;
        Times = times;
        _exception = exception;
        AfterEvents = afterEvents;
    }

    /// <summary>The call this fault applies to.</summary>
    public StoreOperation Operation { get; }

    /// <summary>What it does to a matched call.</summary>
    public FaultKind Kind { get; }

    /// <summary>The persistence id it matches, or null for every persistence id.</summary>
    public string? PersistenceId { get; }

    /// <summary>How many matches it applies to before it expires, or null for no limit (until removed).</summary>
    public int? Times { get; }

    /// <summary>For replays: how many events are replayed normally before the fault strikes (0 = at once).</summary>
    public long AfterEvents { get; }

    /// <summary>How many times the fault has applied so far: matched calls, or matched atomic writes for writes.</summary>
    public int Hits
    {
        get
        {
            lock (_owner.Gate)
            {
                return _hits;
            }
        }
    }

    /// <summary>Whether the fault still applies: neither removed nor used up.</summary>
    public bool IsActive
    {
        get
        {
            lock (_owner.Gate)
            {
                return IsActiveUnlocked;
            }
        }
    }

    private bool IsActiveUnlocked => !_removed && (Times is not { } times || _hits < times);

    /// <summary>Stops the fault from applying to later calls. Calls it already stalled stay stalled until released.</summary>
    public void Remove() => _owner.Remove(this);

    /// <inheritdoc />
    public override string ToString() =>
        $"{Kind} {Operation} of {(PersistenceId is null ? "any persistence id" : $"'{PersistenceId}'")}, {Hits} of {(Times?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited")} used";

    /// <summary>The exception for a hit on <paramref name="persistenceId"/>: the test's own, or a fresh <see cref="InjectedFaultException"/>.</summary>
    internal Exception CreateException(string persistenceId) => _exception ?? new InjectedFaultException(Operation, Kind, persistenceId);

    /// <summary>Uses one application if the fault matches; called under the owner's lock.</summary>
    internal bool TryUse(StoreOperation operation, FaultKind kind, string persistenceId)
    {
        if (operation != Operation || kind != Kind || !IsActiveUnlocked
            || (PersistenceId is not null && !string.Equals(PersistenceId, persistenceId, StringComparison.Ordinal)))
        {
            return false;
        }

        _hits++;
        return true;
    }

    /// <summary>Marks the fault removed; called under the owner's lock.</summary>
    internal void MarkRemoved() => _removed = true;
}
