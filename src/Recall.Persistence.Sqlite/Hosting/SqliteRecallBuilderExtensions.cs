using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Recall.Persistence;
using Recall.Persistence.Sqlite;

namespace Recall.Hosting;

/// <summary>Adds the SQLite store to a host (<c>services.AddRecall(...).UseSqlite()</c>).</summary>
public static class SqliteRecallBuilderExtensions
{
    /// <summary>
    /// Adds the SQLite store, named <c>sqlite</c> for <c>Recall:Store</c> (and the store that runs
    /// when configuration names none and no store is added after it). Its settings bind from
    /// <c>Recall:Sqlite</c> (<c>Path</c>, <c>BusyTimeout</c>, <c>Durability</c>, <c>CreateIfMissing</c>;
    /// an unknown key is an error), then <paramref name="configure"/> runs: code wins. A relative path
    /// is taken from the host's content root.
    /// </summary>
    public static RecallBuilder UseSqlite(this RecallBuilder builder, Action<SqliteStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddStore(new SqliteRecallStore(builder.Configuration?.GetSection(SqliteRecallStore.SectionName), configure));
    }
}

/// <summary>The SQLite store of a host: settings from configuration, then code.</summary>
internal sealed class SqliteRecallStore(IConfiguration? section, Action<SqliteStoreOptions>? configure) : RecallStore(SectionName, "sqlite")
{
    public const string SectionName = "Sqlite";

    public override IEnumerable<string> Validate(string sectionPath) => Failures(
        () =>
        {
            var settings = new SqliteStoreOptions();
            Configure(settings);
            if (string.IsNullOrWhiteSpace(settings.Path))
            {
                throw new ArgumentException($"{nameof(SqliteStoreOptions)}.Path is empty: name the database file, e.g. \"recall.db\".");
            }

            settings.Validate();
        },
        nameof(SqliteStoreOptions),
        sectionPath);

    public override void Apply(PersistenceOptions persistence, IServiceProvider services)
    {
        var contentRoot = services.GetService<IHostEnvironment>()?.ContentRootPath;
        persistence.UseSqlite(settings =>
        {
            Configure(settings);
            if (!string.IsNullOrEmpty(contentRoot) && !string.IsNullOrEmpty(settings.Path))
            {
                settings.Path = Path.Combine(contentRoot, settings.Path);
            }
        });
    }

    private void Configure(SqliteStoreOptions settings)
    {
        section?.Bind(settings, binder => binder.ErrorOnUnknownConfiguration = true);
        configure?.Invoke(settings);
    }
}
