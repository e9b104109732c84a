namespace Recall.Persistence.Journal;

/// <summary>Result lists of <see cref="IJournal.WriteAsync"/> calls whose writes were all stored.</summary>
internal static class WriteResults
{
    // Handed out read-only, so shared: one list per count up to 15.
    private static readonly Exception?[][] Shared = [.. Enumerable.Range(0, 16).Select(count => new Exception?[count])];

    /// <summary>A list of <paramref name="count"/> nulls: shared when short (so typed read-only), else a new one.</summary>
    public static IReadOnlyList<Exception?> AllStored(int count) => count < Shared.Length ? Shared[count] : new Exception?[count];
}
