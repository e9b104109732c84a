using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>
/// How a persistent actor recovers: from the newest snapshot matching <see cref="FromSnapshot"/>,
/// then the events after it up to <see cref="ToSequenceNumber"/>, at most <see cref="ReplayMax"/>.
/// </summary>
/// <param name="FromSnapshot">Which snapshots may be offered.</param>
/// <param name="ToSequenceNumber">The last event to replay (inclusive).</param>
/// <param name="ReplayMax">The most events to replay.</param>
public sealed record Recovery(SnapshotSelectionCriteria FromSnapshot, long ToSequenceNumber = long.MaxValue, long ReplayMax = long.MaxValue)
{
    /// <summary>The newest snapshot, then every event after it.</summary>
    public static Recovery Default { get; } = new(SnapshotSelectionCriteria.Latest);

    /// <summary>
    /// No snapshot and no replay: the actor starts with empty state but continues the stored
    /// sequence numbers (the highest is still read), so new events never collide with old ones.
    /// </summary>
    public static Recovery None { get; } = new(SnapshotSelectionCriteria.None, 0);

    /// <summary>The newest snapshot at or below <paramref name="sequenceNumber"/>, then events up to it.</summary>
    public static Recovery ToSequence(long sequenceNumber) => new(SnapshotSelectionCriteria.UpTo(sequenceNumber), sequenceNumber);
}

/// <summary>Offered to <c>ReceiveRecover</c> first when recovery starts from a snapshot.</summary>
/// <param name="Metadata">Whose snapshot, at which sequence number, when.</param>
/// <param name="Snapshot">The state.</param>
public sealed record SnapshotOffer(SnapshotMetadata Metadata, object Snapshot);

/// <summary>Sent to <c>ReceiveRecover</c> when recovery has finished; commands follow.</summary>
public sealed class RecoveryCompleted
{
    private RecoveryCompleted()
    {
    }

    /// <summary>The one instance.</summary>
    public static RecoveryCompleted Instance { get; } = new();
}

/// <summary>A snapshot was stored.</summary>
public sealed record SaveSnapshotSuccess(SnapshotMetadata Metadata);

/// <summary>A snapshot could not be stored; the actor keeps running.</summary>
public sealed record SaveSnapshotFailure(SnapshotMetadata Metadata, Exception Cause);

/// <summary>A snapshot was deleted.</summary>
public sealed record DeleteSnapshotSuccess(SnapshotMetadata Metadata);

/// <summary>A snapshot could not be deleted.</summary>
public sealed record DeleteSnapshotFailure(SnapshotMetadata Metadata, Exception Cause);

/// <summary>The snapshots matching the criteria were deleted.</summary>
public sealed record DeleteSnapshotsSuccess(SnapshotSelectionCriteria Criteria);

/// <summary>The snapshots matching the criteria could not be deleted.</summary>
public sealed record DeleteSnapshotsFailure(SnapshotSelectionCriteria Criteria, Exception Cause);

/// <summary>The events up to <see cref="ToSequenceNumber"/> were deleted.</summary>
public sealed record DeleteMessagesSuccess(long ToSequenceNumber);

/// <summary>The events up to <see cref="ToSequenceNumber"/> could not be deleted.</summary>
public sealed record DeleteMessagesFailure(long ToSequenceNumber, Exception Cause);
