using Microsoft.Extensions.Configuration;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;

namespace Recall.Hosting;

/// <summary>Adds the PostgreSQL store to a host (<c>services.AddRecall(...).UsePostgreSql()</c>).</summary>
public static class PostgreSqlRecallBuilderExtensions
{
    /// <summary>
    /// Adds the PostgreSQL store, named <c>postgresql</c> (also <c>postgres</c>, as the <c>recall</c>
    /// tool says) for <c>Recall:Store</c>, and the store that runs when configuration names none and
    /// no store is added after it. Its settings bind from <c>Recall:PostgreSql</c>
    /// (<c>ConnectionString</c>, <c>Schema</c>, <c>CreateSchemaIfMissing</c>, <c>MaxWriteConnections</c>,
    /// <c>MaxReadConnections</c>, <c>CommandTimeout</c>, <c>ReplayPageSize</c>, <c>NotifyOnWrite</c>;
    /// an unknown key is an error), then <paramref name="configure"/> runs: code wins.
    /// </summary>
    public static RecallBuilder UsePostgreSql(this RecallBuilder builder, Action<PostgreSqlStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddStore(new PostgreSqlRecallStore(builder.Configuration?.GetSection(PostgreSqlRecallStore.SectionName), configure));
    }
}

/// <summary>The PostgreSQL store of a host: settings from configuration, then code.</summary>
internal sealed class PostgreSqlRecallStore(IConfiguration? section, Action<PostgreSqlStoreOptions>? configure)
    : RecallStore(SectionName, "postgresql", "postgres")
{
    public const string SectionName = "PostgreSql";

    public override IEnumerable<string> Validate(string sectionPath) => Failures(
        () =>
        {
            var settings = new PostgreSqlStoreOptions();
            Configure(settings);
            settings.Validate();
        },
        nameof(PostgreSqlStoreOptions),
        sectionPath);

    public override void Apply(PersistenceOptions persistence, IServiceProvider services) => persistence.UsePostgreSql(Configure);

    private void Configure(PostgreSqlStoreOptions settings)
    {
        section?.Bind(settings, binder => binder.ErrorOnUnknownConfiguration = true);
        configure?.Invoke(settings);
    }
}
