using System.Diagnostics;
using Recall.Persistence.Query;

namespace Recall.Projections;

/// <summary>
/// Names one running stream of a projection: the projection's <see cref="Name"/> and the
/// <see cref="Key"/> of its source (the tag, or the slice range). Offsets are stored per id, so
/// several instances of one projection that split the slices each keep their own offset.
/// </summary>
[DebuggerDisplay("{Name,nq} ({Key,nq})")]
public readonly record struct ProjectionId
{
    /// <summary>Creates an id.</summary>
    /// <exception cref="ArgumentException">A part is null or empty.</exception>
    public ProjectionId(string name, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(key);
        Name = name;
        Key = key;
    }

    /// <summary>The projection's name, e.g. <c>published-posts</c>.</summary>
    public string Name { get; }

    /// <summary>The source's key, e.g. the tag <c>post</c> or the slice range <c>post:0-511</c>.</summary>
    public string Key { get; }

    /// <summary><c>name (key)</c>.</summary>
    public override string ToString() => $"{Name} ({Key})";
}

/// <summary>What a projection is doing.</summary>
public enum ProjectionState
{
    /// <summary>Reading events and handling them (also while it waits for new ones).</summary>
    Running,

    /// <summary>Paused by a user: it handles nothing until resumed.</summary>
    Paused,

    /// <summary>Its handler or source failed; it waits for its backoff delay and then starts again from its stored offset.</summary>
    Failed,

    /// <summary>Stopped: its system terminated or it was stopped through its handle.</summary>
    Stopped,
}

/// <summary>A projection's row in the offsets table (<c>recall_projection_offsets</c>) or in another offset store.</summary>
/// <param name="Id">Whose row.</param>
/// <param name="Offset">The offset of the last handled event; <see cref="Offset.Start"/> when none was handled.</param>
/// <param name="LastEventTimestamp">When the last handled event was persisted, or null when none was handled.</param>
/// <param name="State">The state the projection last wrote.</param>
/// <param name="LastError">The last failure the projection recorded (kept after it recovered), or null.</param>
/// <param name="UpdatedAt">When the row last changed.</param>
public sealed record StoredProjection(
    ProjectionId Id,
    Offset Offset,
    DateTimeOffset? LastEventTimestamp,
    ProjectionState State,
    string? LastError,
    DateTimeOffset UpdatedAt);

/// <summary>How far a projection is behind its source, as measured by <see cref="ProjectionHandle.GetStatusAsync"/>.</summary>
/// <param name="Events">
/// How many events of the source come after the projection's offset. When the count reached
/// <see cref="ProjectionOptions.LagScanLimit"/>, the lag is at least this (<paramref name="AtLeast"/>).
/// </param>
/// <param name="AtLeast">Whether the measurement stopped at <see cref="ProjectionOptions.LagScanLimit"/>: the lag is this or more.</param>
/// <param name="Time">
/// The newest event's timestamp minus the last handled event's timestamp (the oldest waiting
/// event's when none was handled yet); zero when nothing waits.
/// </param>
/// <param name="MeasuredAt">When it was measured.</param>
public sealed record ProjectionLag(long Events, bool AtLeast, TimeSpan Time, DateTimeOffset MeasuredAt);

/// <summary>A projection's status in this process, as its <see cref="ProjectionHandle"/> reports it.</summary>
/// <param name="Id">Which projection.</param>
/// <param name="State">What it is doing now.</param>
/// <param name="Offset">The offset of the last handled event (the stored offset); <see cref="Offset.Start"/> before the first.</param>
/// <param name="LastEventTimestamp">When the last handled event was persisted, or null.</param>
/// <param name="EventsHandled">Events handled (and stored with their offset) since the projection started in this process.</param>
/// <param name="Restarts">How often it started again after a failure since it started in this process.</param>
/// <param name="LastError">The last failure (exception type, message and the event it failed on), or null; kept after recovery.</param>
/// <param name="LastErrorAt">When the last failure happened, or null.</param>
/// <param name="Lag">The lag at its last measurement, or null when it was never measured.</param>
public sealed record ProjectionStatus(
    ProjectionId Id,
    ProjectionState State,
    Offset Offset,
    DateTimeOffset? LastEventTimestamp,
    long EventsHandled,
    int Restarts,
    string? LastError,
    DateTimeOffset? LastErrorAt,
    ProjectionLag? Lag);
