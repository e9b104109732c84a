using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Recall.Actors;
using Recall.Hosting.Internal;
using Recall.Projections;

namespace Recall.Hosting;

/// <summary>Adds Recall to a .NET host.</summary>
public static class RecallServiceCollectionExtensions
{
    /// <summary>
    /// Adds an actor system configured in code: a singleton <see cref="ActorSystem"/> that logs
    /// through the container's <c>ILoggerFactory</c>, runs on its <see cref="TimeProvider"/> (the
    /// system clock when none is registered), starts with the host and stops gracefully with it.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets <see cref="RecallOptions"/>, e.g. <c>o => o.UsePersistence(p => p.Events.RegisterAssemblyOf&lt;Wallet&gt;())</c>.</param>
    /// <returns>A builder to register top-level actors.</returns>
    public static RecallBuilder AddRecall(this IServiceCollection services, Action<RecallOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        return Add(services, configuration: null, configure);
    }

    /// <summary>
    /// Adds an actor system configured from <paramref name="configuration"/> (usually
    /// <c>builder.Configuration.GetSection("Recall")</c>), then by <paramref name="configure"/>.
    /// Settings are checked when the host starts; a wrong one stops it with an error naming its key.
    /// Keys the options do not know are errors too, so a misspelt setting is not silently ignored.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The section with SystemName, Store, Persistence, DrainTimeout and the added stores' sections (Sqlite, PostgreSql).</param>
    /// <param name="configure">Runs after binding: code wins over configuration where both set something.</param>
    /// <returns>A builder to register top-level actors.</returns>
    public static RecallBuilder AddRecall(this IServiceCollection services, IConfiguration configuration, Action<RecallOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return Add(services, configuration, configure);
    }

    private static RecallBuilder Add(IServiceCollection services, IConfiguration? configuration, Action<RecallOptions>? configure)
    {
        var options = services.AddOptions<RecallOptions>();
        var section = configuration is IConfigurationSection named ? named.Path : configuration is null ? "Recall" : "";
        if (configuration is not null)
        {
            options.Configure<IEnumerable<RecallStore>>((o, stores) => RecallConfiguration.Bind(configuration, o, section, stores));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RecallOptions>, RecallOptionsValidator>(
            provider => new RecallOptionsValidator(section, [.. provider.GetServices<RecallStore>()])));
        services.TryAddSingleton(ActorSystemFactory.Create);
        services.TryAddSingleton(provider => new ActorRegistry(
            provider.GetRequiredService<ActorSystem>(), provider, provider.GetServices<ActorRegistration>()));
        services.TryAddSingleton(provider => provider.GetRequiredService<ActorSystem>().Projections());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, RecallHostedService>());
        return new RecallBuilder(services, configuration);
    }
}
