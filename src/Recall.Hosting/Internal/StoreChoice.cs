namespace Recall.Hosting.Internal;

/// <summary>
/// The store a host runs on: the one <see cref="RecallOptions.Store"/> names among <c>memory</c> and
/// the added stores, or, when it names none, the store added last (or none at all).
/// </summary>
/// <param name="IsMemory">The process-memory store.</param>
/// <param name="Added">An added store, or null.</param>
internal readonly record struct StoreChoice(bool IsMemory, RecallStore? Added)
{
    private const string Memory = "memory";

    /// <summary>True when the host has a store.</summary>
    public bool Any => IsMemory || Added is not null;

    /// <summary>Chooses; null with <paramref name="failure"/> set when <paramref name="name"/> names no store of this host.</summary>
    public static StoreChoice? Of(string? name, IReadOnlyList<RecallStore> stores, out string? failure)
    {
        failure = null;
        if (name is null)
        {
            return new StoreChoice(false, stores.Count == 0 ? null : stores[^1]);
        }

        var wanted = name.Trim();
        if (string.Equals(wanted, Memory, StringComparison.OrdinalIgnoreCase))
        {
            return new StoreChoice(true, null);
        }

        for (var i = stores.Count - 1; i >= 0; i--)
        {
            if (stores[i].Names.Any(n => string.Equals(n, wanted, StringComparison.OrdinalIgnoreCase)))
            {
                return new StoreChoice(false, stores[i]);
            }
        }

        failure = $"is '{name}', which is not a store of this host: use {Known(stores)}";
        return null;
    }

    /// <summary><c>memory, sqlite or postgresql (postgres also works)</c>, and how a store is added.</summary>
    private static string Known(IReadOnlyList<RecallStore> stores)
    {
        var names = new List<string> { Memory };
        var others = new List<string>();
        foreach (var store in stores)
        {
            if (!names.Contains(store.Names[0], StringComparer.OrdinalIgnoreCase))
            {
                names.Add(store.Names[0]);
                others.AddRange(store.Names.Skip(1));
            }
        }

        var list = names.Count == 1 ? names[0] : $"{string.Join(", ", names.Take(names.Count - 1))} or {names[^1]}";
        var also = others.Count == 0 ? "" : $" ({string.Join(", ", others)} also work{(others.Count == 1 ? "s" : "")})";
        return $"{list}{also}. A store's package adds it: AddRecall(...).UseSqlite() (Recall.Persistence.Sqlite), .UsePostgreSql() (Recall.Persistence.PostgreSql).";
    }
}
