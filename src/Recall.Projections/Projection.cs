using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections;

/// <summary>Handles one envelope of an at-least-once projection. Must be idempotent: an envelope may be handled again after a failure or crash.</summary>
/// <param name="envelope">The event and where it is in the stream.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); not by pause.</param>
public delegate Task EnvelopeHandler(EventEnvelope envelope, CancellationToken cancellationToken);

/// <summary>Handles a batch of envelopes of an at-least-once projection at once. Must be idempotent: a batch may be handled again after a failure or crash.</summary>
/// <param name="envelopes">The envelopes, in stream order; the list belongs to the handler.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); not by pause.</param>
public delegate Task BatchHandler(IReadOnlyList<EventEnvelope> envelopes, CancellationToken cancellationToken);

/// <summary>
/// A read-model projection: a <see cref="ProjectionSource"/>, a handler that applies envelopes to a
/// read model, and where the offset of the last handled envelope is stored. Create one with
/// <see cref="AtLeastOnce"/> / <see cref="AtLeastOnceGrouped"/>, <c>SqliteProjection.ExactlyOnce</c> or
/// <c>PostgreSqlProjection.ExactlyOnce</c>, and run it with <c>system.Projections().Start(projection)</c>.
/// </summary>
/// <remarks>
/// A projection object is a definition: it holds no state of a run, and its settings are read when
/// it starts. See docs/projections.md for the guarantees, failure handling and management.
/// </remarks>
public abstract class Projection
{
    private protected Projection(string name, ProjectionSource source)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(source);
        Name = name;
        Source = source;
    }

    /// <summary>The projection's name: with the source's key, it names the stored offset.</summary>
    public string Name { get; }

    /// <summary>Where the events come from.</summary>
    public ProjectionSource Source { get; }

    /// <summary>The name and the source's key.</summary>
    public ProjectionId Id => new(Name, Source.Key);

    /// <summary>Batching, backoff and lag settings.</summary>
    public ProjectionOptions Options { get; } = new();

    /// <summary>Whether the read model and the offset are written in one transaction (exactly-once), or the offset after the handler (at-least-once).</summary>
    public abstract bool IsExactlyOnce { get; }

    /// <summary>
    /// A projection that hands each envelope to <paramref name="handler"/> and then stores the offset in
    /// <paramref name="offsets"/>: at-least-once, for any read model (a dictionary, a key-value store, a
    /// search index). After a failure or crash, envelopes handled since the last stored offset are
    /// handled again, so the handler must be idempotent; no envelope is ever skipped.
    /// </summary>
    public static AtLeastOnceProjection AtLeastOnce(string name, ProjectionSource source, IProjectionOffsetStore offsets, EnvelopeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(handler);
        return new AtLeastOnceProjection(name, source, offsets, handler, null);
    }

    /// <summary>
    /// As <see cref="AtLeastOnce"/>, but the handler gets batches of up to
    /// <see cref="ProjectionOptions.MaxBatchSize"/> envelopes (or what arrived within
    /// <see cref="ProjectionOptions.MaxBatchDelay"/>); the offset is stored after each batch.
    /// </summary>
    public static AtLeastOnceProjection AtLeastOnceGrouped(string name, ProjectionSource source, IProjectionOffsetStore offsets, BatchHandler handler)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        ArgumentNullException.ThrowIfNull(handler);
        return new AtLeastOnceProjection(name, source, offsets, null, handler);
    }

    internal abstract ProjectionDriver CreateDriver(TimeProvider timeProvider);

    /// <inheritdoc />
    public override string ToString() => Id.ToString();
}

/// <summary>A projection that stores its offset after its handler ran: see <see cref="Projection.AtLeastOnce"/>.</summary>
public sealed class AtLeastOnceProjection : Projection
{
    private readonly IProjectionOffsetStore _offsets;
    private readonly EnvelopeHandler? _envelopeHandler;
    private readonly BatchHandler? _batchHandler;
    private Func<CancellationToken, Task>? _clear;

    internal AtLeastOnceProjection(string name, ProjectionSource source, IProjectionOffsetStore offsets, EnvelopeHandler? envelopeHandler, BatchHandler? batchHandler)
        : base(name, source)
    {
        _offsets = offsets;
        _envelopeHandler = envelopeHandler;
        _batchHandler = batchHandler;
    }

    /// <inheritdoc />
    public override bool IsExactlyOnce => false;

    /// <summary>Changes the settings; returns this projection.</summary>
    public AtLeastOnceProjection WithOptions(Action<ProjectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Options);
        return this;
    }

    /// <summary>
    /// What a rebuild runs to empty the read model. It runs after the offset was reset to the start,
    /// so a crash in between leaves duplicates (the handler is idempotent), never a gap.
    /// </summary>
    public AtLeastOnceProjection WithClear(Func<CancellationToken, Task> clear)
    {
        ArgumentNullException.ThrowIfNull(clear);
        _clear = clear;
        return this;
    }

    internal override ProjectionDriver CreateDriver(TimeProvider timeProvider) =>
        new AtLeastOnceDriver(Id, _offsets, _envelopeHandler, _batchHandler, _clear);
}
