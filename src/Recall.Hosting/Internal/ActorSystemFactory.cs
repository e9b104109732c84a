using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Recall.Actors;
using Recall.Persistence;
using Recall.Projections;

namespace Recall.Hosting.Internal;

/// <summary>Creates the host's actor system from <see cref="RecallOptions"/> and the container's logging, clock and services.</summary>
internal static class ActorSystemFactory
{
    public static ActorSystem Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<RecallOptions>>().Value;
        // Validated at start: a wrong name fails there, with its key, before the system is created.
        var store = StoreChoice.Of(options.Store, [.. services.GetServices<RecallStore>()], out _) ?? default;
        return ActorSystem.Create(options.SystemName, system =>
        {
            if (services.GetService<ILoggerFactory>() is { } loggerFactory)
            {
                system.LoggerFactory = loggerFactory;
            }

            system.TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System;
            system.AddExtension(_ => new ActorDependencyResolver(services));
            if (store.Any || options.ConfiguresPersistence)
            {
                system.UsePersistence(persistence => options.ApplyPersistence(persistence, store, services));
                system.UseProjections();
            }

            options.ApplyActorSystem(system);
        });
    }
}
