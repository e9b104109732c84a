using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Recall.Hosting.Internal;

/// <summary>
/// Binds the <c>Recall</c> section: every key as the configuration binder does (an unknown key is an
/// error), but <c>Store</c> by name, so that it takes the spellings people use (<c>postgresql</c>, and
/// <c>postgres</c> as the tool says) and a wrong one is refused with the valid names in one line.
/// </summary>
internal static class RecallConfiguration
{
    private static readonly Dictionary<string, RecallStore> StoreNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["memory"] = RecallStore.Memory,
        ["sqlite"] = RecallStore.Sqlite,
        ["postgresql"] = RecallStore.PostgreSql,
        ["postgres"] = RecallStore.PostgreSql,
    };

    public static void Bind(IConfiguration configuration, RecallOptions options, string section)
    {
        // The same keys at the same paths (so that the binder's errors name them as the user wrote
        // them), without Store.
        var store = configuration["Store"];
        var storeKey = section.Length == 0 ? "Store" : section + ":Store";
        var rest = new ConfigurationBuilder()
            .AddInMemoryCollection(configuration.AsEnumerable()
                .Where(setting => setting.Value is not null && !string.Equals(setting.Key, storeKey, StringComparison.OrdinalIgnoreCase)))
            .Build();
        (section.Length == 0 ? (IConfiguration)rest : rest.GetSection(section)).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
        if (store is not null)
        {
            options.Store = StoreNames.TryGetValue(store.Trim(), out var chosen)
                ? chosen
                : throw new OptionsValidationException(Options.DefaultName, typeof(RecallOptions), [
                    $"{storeKey} is '{store}', which is not a store: use memory, sqlite or postgresql (postgres also works)."]);
        }
    }
}
