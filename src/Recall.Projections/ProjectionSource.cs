using System.Globalization;
using Recall.Persistence.Query;

namespace Recall.Projections;

/// <summary>
/// Where a projection's events come from, and the <see cref="Key"/> its offset is stored under:
/// the events of a tag, the events of a slice range, or any stream of envelopes.
/// </summary>
/// <remarks>
/// <para>Sources by tag and by slices read the read journal of the projection
/// (<see cref="ProjectionOptions.ReadJournal"/>, by default the system's
/// <c>system.Persistence().ReadJournal</c>).</para>
/// <para>Envelopes that share an offset (a read adapter that turns one stored event into several)
/// are always handled in one batch, so a stored offset never splits them. A custom source must
/// deliver such envelopes back to back, without waiting in between.</para>
/// </remarks>
public sealed class ProjectionSource
{
    private readonly Func<IReadJournal?, Offset, bool, CancellationToken, IAsyncEnumerable<EventEnvelope>> _events;

    private ProjectionSource(string key, bool readsJournal, Func<IReadJournal?, Offset, bool, CancellationToken, IAsyncEnumerable<EventEnvelope>> events)
    {
        Key = key;
        ReadsJournal = readsJournal;
        _events = events;
    }

    /// <summary>The key the projection's offset is stored under, beside its name.</summary>
    public string Key { get; }

    internal bool ReadsJournal { get; }

    /// <summary>The events tagged <paramref name="tag"/>, in global order. The key is the tag.</summary>
    public static ProjectionSource EventsByTag(string tag)
    {
        ArgumentException.ThrowIfNullOrEmpty(tag);
        return new ProjectionSource(tag, readsJournal: true, (journal, from, live, ct) => journal!.EventsByTag(tag, from, live, ct));
    }

    /// <summary>
    /// The events of the persistence ids of <paramref name="entityType"/> in slices
    /// <paramref name="minSlice"/> to <paramref name="maxSlice"/> (see <see cref="Slices"/>), in global
    /// order. The key is <c>entityType:minSlice-maxSlice</c>; start one projection per range of
    /// <see cref="Slices.Ranges"/> to share the work between instances.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is not within 0 to 1,023 or is empty.</exception>
    public static ProjectionSource EventsBySlices(string entityType, int minSlice, int maxSlice)
    {
        ArgumentNullException.ThrowIfNull(entityType);
        _ = EventFilter.BySlices(entityType, minSlice, maxSlice); // validates the range
        var key = string.Create(CultureInfo.InvariantCulture, $"{entityType}:{minSlice}-{maxSlice}");
        return new ProjectionSource(key, readsJournal: true, (journal, from, live, ct) => journal!.EventsBySlices(entityType, minSlice, maxSlice, from, live, ct));
    }

    /// <summary>
    /// Any stream of envelopes under <paramref name="key"/>. <paramref name="events"/> gets the offset to
    /// start after, whether to go on with new events (<c>live</c>; projections always ask for a live
    /// stream, status and catch-up checks for a finite one) and a cancellation token. Offsets must
    /// grow along the stream. A projection whose live stream ends anyway stops (state
    /// <see cref="ProjectionState.Stopped"/>) once it handled the last envelope.
    /// </summary>
    public static ProjectionSource Create(string key, Func<Offset, bool, CancellationToken, IAsyncEnumerable<EventEnvelope>> events)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(events);
        return new ProjectionSource(key, readsJournal: false, (_, from, live, ct) => events(from, live, ct));
    }

    internal IAsyncEnumerable<EventEnvelope> Events(IReadJournal? journal, Offset from, bool live, CancellationToken cancellationToken) =>
        _events(journal, from, live, cancellationToken);

    /// <inheritdoc />
    public override string ToString() => Key;
}
