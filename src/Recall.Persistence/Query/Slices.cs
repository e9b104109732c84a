using System.Text;

namespace Recall.Persistence.Query;

/// <summary>
/// Splits persistence ids into <see cref="Count"/> slices by a stable hash, so that N consumers of
/// <see cref="IReadJournal.EventsBySlices"/> can each take a range of slices, and re-split later
/// (every event keeps its slice for ever). The entity type of <c>account|42</c> is <c>account</c>
/// (the text before the first <c>|</c>, see <c>PersistenceId.Of</c>); an id without <c>|</c> has
/// the empty entity type.
/// </summary>
public static class Slices
{
    /// <summary>How many slices there are: 1,024, numbered 0 to 1,023.</summary>
    public const int Count = 1024;

    /// <summary>
    /// The slice of <paramref name="persistenceId"/>: the 32-bit FNV-1a hash of its UTF-8 bytes,
    /// modulo <see cref="Count"/>. Stable across processes, machines and versions.
    /// </summary>
    public static int Of(string persistenceId)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        const uint prime = 16777619;
        var hash = 2166136261;
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetMaxByteCount(persistenceId.Length) <= buffer.Length
            ? buffer[..Encoding.UTF8.GetBytes(persistenceId, buffer)]
            : Encoding.UTF8.GetBytes(persistenceId);
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * prime;
        }

        return (int)(hash % Count);
    }

    /// <summary>The entity type of <paramref name="persistenceId"/>: the text before the first <c>|</c>, or empty.</summary>
    public static string EntityTypeOf(string persistenceId)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        var separator = persistenceId.IndexOf(PersistenceId.Separator, StringComparison.Ordinal);
        return separator < 0 ? "" : persistenceId[..separator];
    }

    /// <summary>
    /// Splits the slices into <paramref name="parts"/> contiguous ranges of (almost) equal size, for
    /// <paramref name="parts"/> consumers: e.g. 4 parts give 0–255, 256–511, 512–767, 768–1,023.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parts"/> is not between 1 and <see cref="Count"/>.</exception>
    public static IReadOnlyList<(int MinSlice, int MaxSlice)> Ranges(int parts)
    {
        if (parts is < 1 or > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(parts), parts, $"The slices split into 1 to {Count} ranges.");
        }

        var ranges = new (int, int)[parts];
        for (var i = 0; i < parts; i++)
        {
            ranges[i] = (i * Count / parts, ((i + 1) * Count / parts) - 1);
        }

        return ranges;
    }
}
