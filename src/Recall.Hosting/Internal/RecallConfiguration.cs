using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Recall.Hosting.Internal;

/// <summary>
/// Binds the <c>Recall</c> section: every key as the configuration binder does (an unknown key is an
/// error), except the sections of the added stores, which bind their own settings
/// (<see cref="RecallStore.Section"/>).
/// </summary>
internal static class RecallConfiguration
{
    public static void Bind(IConfiguration configuration, RecallOptions options, string section, IEnumerable<RecallStore> stores)
    {
        // The same keys at the same paths (so that the binder's errors name them as the user wrote
        // them), without the stores' sections.
        var prefix = section.Length == 0 ? "" : section + ":";
        var storeSections = stores.Select(s => prefix + s.Section).ToList();
        foreach (var child in configuration.GetChildren())
        {
            // The settings of a store whose package is referenced but not added: say how to add it.
            if (PackageOf(child.Key) is { } package && !storeSections.Contains(prefix + child.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new OptionsValidationException(Options.DefaultName, typeof(RecallOptions), [
                    $"{prefix}{child.Key} is set, but the host added no such store: call AddRecall(...).Use{package}() (package Recall.Persistence.{package})."]);
            }
        }

        bool OfAStore(string key) => storeSections.Any(s =>
            key.Equals(s, StringComparison.OrdinalIgnoreCase) || key.StartsWith(s + ":", StringComparison.OrdinalIgnoreCase));

        var rest = new ConfigurationBuilder()
            .AddInMemoryCollection(configuration.AsEnumerable().Where(setting => setting.Value is not null && !OfAStore(setting.Key)))
            .Build();
        (section.Length == 0 ? (IConfiguration)rest : rest.GetSection(section)).Bind(options, binder => binder.ErrorOnUnknownConfiguration = true);
    }

    private static string? PackageOf(string key) =>
        key.Equals("Sqlite", StringComparison.OrdinalIgnoreCase) ? "Sqlite"
        : key.Equals("PostgreSql", StringComparison.OrdinalIgnoreCase) ? "PostgreSql"
        : null;
}
