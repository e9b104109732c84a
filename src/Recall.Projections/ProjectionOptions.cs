using Recall.Persistence.Query;

namespace Recall.Projections;

/// <summary>Settings of one projection. Every property has a documented default; they are checked when the projection starts.</summary>
public sealed class ProjectionOptions
{
    /// <summary>
    /// The most envelopes handled in one batch: one transaction (exactly-once) or one offset save
    /// (at-least-once). Default 1,000. A batch takes only what is ready (or arrives within
    /// <see cref="MaxBatchDelay"/>), so batches are large while a projection catches up and single
    /// envelopes when it follows live writes. Envelopes that share an offset are never split, so a
    /// batch may exceed this by the few that complete an offset. Set 1 for a transaction per envelope.
    /// </summary>
    public int MaxBatchSize { get; set; } = 1000;

    /// <summary>
    /// How long a batch may wait for more envelopes after its first one arrived. Default zero: a
    /// batch never waits, it takes what is ready. A positive value trades latency for fewer,
    /// larger transactions when events trickle in.
    /// </summary>
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.Zero;

    /// <summary>The delay before the first restart after a failure. Default 1 s.</summary>
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay between restarts; delays double from <see cref="MinBackoff"/> up to this. Default 30 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Random extra delay, as a fraction of the delay (0.2 = up to 20 % more), so that projections
    /// that failed together do not restart in step. Default 0.2.
    /// </summary>
    public double RandomFactor { get; set; } = 0.2;

    /// <summary>
    /// The most events <see cref="ProjectionHandle.GetStatusAsync"/> counts to measure the lag; a
    /// larger lag is reported as "at least" this. Counting reads the waiting events from the source.
    /// Default 10,000.
    /// </summary>
    public int LagScanLimit { get; set; } = 10_000;

    /// <summary>
    /// The read journal that sources by tag and by slices read. Default null: the system's
    /// (<c>system.Persistence().ReadJournal</c>).
    /// </summary>
    public IReadJournal? ReadJournal { get; set; }

    /// <summary>The delay before restart number <paramref name="failures"/> (1 for the first), stretched by <paramref name="random"/> (0 to 1) times <see cref="RandomFactor"/>.</summary>
    internal TimeSpan BackoffDelay(int failures, double random)
    {
        var factor = Math.Pow(2, Math.Clamp(failures - 1, 0, 30));
        var ticks = Math.Min(MaxBackoff.Ticks, MinBackoff.Ticks * factor);
        return TimeSpan.FromTicks((long)(ticks * (1 + (RandomFactor * random))));
    }

    internal void Validate(ProjectionId id)
    {
        if (MaxBatchSize < 1)
        {
            throw new ArgumentException($"Projection {id}: ProjectionOptions.MaxBatchSize must be at least 1, not {MaxBatchSize}.");
        }

        if (MaxBatchDelay < TimeSpan.Zero)
        {
            throw new ArgumentException($"Projection {id}: ProjectionOptions.MaxBatchDelay must not be negative, not {MaxBatchDelay}.");
        }

        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff)
        {
            throw new ArgumentException($"Projection {id}: ProjectionOptions.MinBackoff ({MinBackoff}) must be positive and at most MaxBackoff ({MaxBackoff}).");
        }

        if (RandomFactor is < 0 or > 1 || double.IsNaN(RandomFactor))
        {
            throw new ArgumentException($"Projection {id}: ProjectionOptions.RandomFactor must be between 0 and 1, not {RandomFactor}.");
        }

        if (LagScanLimit < 1)
        {
            throw new ArgumentException($"Projection {id}: ProjectionOptions.LagScanLimit must be at least 1, not {LagScanLimit}.");
        }
    }
}
