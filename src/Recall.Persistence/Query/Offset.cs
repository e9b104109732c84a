using System.Globalization;

namespace Recall.Persistence.Query;

/// <summary>
/// A position in the global order of a journal, as read by <see cref="IReadJournal.EventsByTag"/> and
/// <see cref="IReadJournal.EventsBySlices"/>. A stream started from an offset delivers only events
/// after it (the offset is exclusive), so storing the offset of the last handled envelope is enough
/// to resume. <see cref="Start"/> is before every event.
/// </summary>
/// <remarks>
/// An offset has two parts compared in order: <see cref="Transaction"/> (0 for stores whose commits
/// are serialized, like SQLite and the in-memory store; the PostgreSQL transaction id otherwise) and
/// <see cref="Ordering"/> (the event's row in the global order). Its text form is
/// <c>ordering</c> or <c>transaction.ordering</c>; <see cref="Parse"/> reads both back.
/// </remarks>
/// <param name="Transaction">The transaction that wrote the event, or 0 where commits are serialized.</param>
/// <param name="Ordering">The event's place in the global order.</param>
public readonly record struct Offset(long Transaction, long Ordering) : IComparable<Offset>
{
    /// <summary>Before every event: a stream from here starts with the first one.</summary>
    public static Offset Start => default;

    /// <summary>An offset of a store with serialized commits: just the global ordering.</summary>
    public static Offset Sequence(long ordering) => new(0, ordering);

    /// <summary>Orders offsets by transaction, then ordering.</summary>
    public int CompareTo(Offset other)
    {
        var byTransaction = Transaction.CompareTo(other.Transaction);
        return byTransaction != 0 ? byTransaction : Ordering.CompareTo(other.Ordering);
    }

    /// <summary>Whether <paramref name="left"/> comes before <paramref name="right"/>.</summary>
    public static bool operator <(Offset left, Offset right) => left.CompareTo(right) < 0;

    /// <summary>Whether <paramref name="left"/> comes after <paramref name="right"/>.</summary>
    public static bool operator >(Offset left, Offset right) => left.CompareTo(right) > 0;

    /// <summary>Whether <paramref name="left"/> is not after <paramref name="right"/>.</summary>
    public static bool operator <=(Offset left, Offset right) => left.CompareTo(right) <= 0;

    /// <summary>Whether <paramref name="left"/> is not before <paramref name="right"/>.</summary>
    public static bool operator >=(Offset left, Offset right) => left.CompareTo(right) >= 0;

    /// <summary>The text form: <c>ordering</c>, or <c>transaction.ordering</c> when the transaction is set.</summary>
    public override string ToString() => Transaction == 0
        ? Ordering.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Transaction}.{Ordering}");

    /// <summary>Reads the text form of <see cref="ToString"/>.</summary>
    /// <exception cref="FormatException">The text is not an offset; the message quotes it.</exception>
    public static Offset Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0 && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ordering))
        {
            return Sequence(ordering);
        }

        if (dot > 0
            && long.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var transaction)
            && long.TryParse(text.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ordering))
        {
            return new Offset(transaction, ordering);
        }

        throw new FormatException($"'{text}' is not an offset: expected 'ordering' or 'transaction.ordering' with non-negative whole numbers.");
    }
}
