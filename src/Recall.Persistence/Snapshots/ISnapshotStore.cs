namespace Recall.Persistence.Snapshots;

/// <summary>Identifies a snapshot: whose state, after which event, taken when.</summary>
/// <param name="PersistenceId">Whose state.</param>
/// <param name="SequenceNumber">The sequence number of the last event the state includes.</param>
/// <param name="Timestamp">When the snapshot was taken, in UTC.</param>
public sealed record SnapshotMetadata(string PersistenceId, long SequenceNumber, DateTimeOffset Timestamp);

/// <summary>A stored snapshot and its metadata.</summary>
/// <param name="Metadata">Whose, at which sequence number, when.</param>
/// <param name="Snapshot">The state.</param>
public sealed record SelectedSnapshot(SnapshotMetadata Metadata, object Snapshot);

/// <summary>
/// Which snapshots qualify: sequence number and timestamp each between a minimum and a maximum
/// (inclusive). <see cref="Latest"/> takes any; <see cref="None"/> takes none.
/// </summary>
public sealed record SnapshotSelectionCriteria(
    long MaxSequenceNumber,
    DateTimeOffset MaxTimestamp,
    long MinSequenceNumber = 0,
    DateTimeOffset MinTimestamp = default)
{
    /// <summary>Any snapshot: the newest one is selected.</summary>
    public static SnapshotSelectionCriteria Latest { get; } = new(long.MaxValue, DateTimeOffset.MaxValue);

    /// <summary>No snapshot: recovery replays all events.</summary>
    public static SnapshotSelectionCriteria None { get; } = new(0, DateTimeOffset.MinValue);

    /// <summary>Snapshots at or below a sequence number.</summary>
    public static SnapshotSelectionCriteria UpTo(long maxSequenceNumber) => new(maxSequenceNumber, DateTimeOffset.MaxValue);

    /// <summary>Whether a snapshot's metadata qualifies.</summary>
    public bool Matches(SnapshotMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.SequenceNumber <= MaxSequenceNumber && metadata.Timestamp <= MaxTimestamp
            && metadata.SequenceNumber >= MinSequenceNumber && metadata.Timestamp >= MinTimestamp;
    }
}

/// <summary>
/// Stores snapshots of actor state, so that recovery replays only the events after the newest one.
/// Snapshots are an optimisation: losing one costs replay time, never data.
/// </summary>
/// <remarks>
/// Saving again at the same (persistence id, sequence number) overwrites. The store serializes
/// the snapshot; a snapshot it cannot deserialize on load is reported by throwing
/// <see cref="SnapshotLoadException"/> so the runtime can fall back to a full replay when allowed.
/// </remarks>
public interface ISnapshotStore
{
    /// <summary>The newest snapshot of <paramref name="persistenceId"/> matching <paramref name="criteria"/>, or null.</summary>
    ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken);

    /// <summary>Stores a snapshot, replacing one with the same persistence id and sequence number.</summary>
    ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken);

    /// <summary>Deletes the snapshot with this persistence id and sequence number, if its timestamp is not newer than the metadata's (a default timestamp matches any).</summary>
    ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken);

    /// <summary>Deletes every snapshot of <paramref name="persistenceId"/> matching <paramref name="criteria"/>.</summary>
    ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken);
}

/// <summary>A stored snapshot exists but cannot be read (unknown manifest, bad payload).</summary>
public sealed class SnapshotLoadException(SnapshotMetadata metadata, string manifest, Exception inner)
    : Exception($"Snapshot of '{metadata.PersistenceId}' at sequence number {metadata.SequenceNumber} (manifest '{manifest}') cannot be read: {inner.Message}", inner)
{
    /// <summary>Which snapshot.</summary>
    public SnapshotMetadata Metadata { get; } = metadata;

    /// <summary>Its stored manifest.</summary>
    public string Manifest { get; } = manifest;
}
