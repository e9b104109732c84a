namespace Recall.Persistence;

/// <summary>Recovery of a persistent actor failed; the message names the persistence id, sequence number and manifest.</summary>
public sealed class RecoveryFailedException : Exception
{
    /// <summary>Creates the exception for a failure at <paramref name="sequenceNumber"/> (0 when before any event).</summary>
    public RecoveryFailedException(string persistenceId, long sequenceNumber, string? manifest, Exception inner)
        : base(Describe(persistenceId, sequenceNumber, manifest, inner), inner)
    {
        PersistenceId = persistenceId;
        SequenceNumber = sequenceNumber;
        Manifest = manifest;
    }

    /// <summary>The actor whose recovery failed.</summary>
    public string PersistenceId { get; }

    /// <summary>The sequence number of the event being replayed, or 0.</summary>
    public long SequenceNumber { get; }

    /// <summary>The manifest of that event, if known.</summary>
    public string? Manifest { get; }

    private static string Describe(string persistenceId, long sequenceNumber, string? manifest, Exception inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        var where = sequenceNumber > 0 ? $" at sequence number {sequenceNumber}" : "";
        var what = manifest is null ? "" : $" (manifest '{manifest}')";
        return $"Recovery of '{persistenceId}' failed{where}{what}: {inner.Message}";
    }
}

/// <summary>A journal call did not complete within its timeout.</summary>
public sealed class JournalTimeoutException(string operation, TimeSpan timeout)
    : TimeoutException($"Journal {operation} did not complete within {timeout.TotalMilliseconds:0} ms.");

/// <summary>The journal's circuit breaker is open after repeated failures: writes fail fast until it probes the store again.</summary>
public sealed class CircuitBreakerOpenException(TimeSpan remaining)
    : Exception($"The journal failed repeatedly; writes fail fast for another {Math.Max(0, remaining.TotalMilliseconds):0} ms before the store is tried again.");
