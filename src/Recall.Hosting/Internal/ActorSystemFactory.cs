using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
        var contentRoot = services.GetService<IHostEnvironment>()?.ContentRootPath;
        return ActorSystem.Create(options.SystemName, system =>
        {
            if (services.GetService<ILoggerFactory>() is { } loggerFactory)
            {
                system.LoggerFactory = loggerFactory;
            }

            system.TimeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System;
            system.AddExtension(_ => new ActorDependencyResolver(services));
            if (options.HasPersistence)
            {
                system.UsePersistence(persistence => options.ApplyPersistence(persistence, string.IsNullOrEmpty(contentRoot) ? null : contentRoot));
            }

            if (options.HasPersistence)
            {
                system.UseProjections();
            }

            options.ApplyActorSystem(system);
        });
    }
}
