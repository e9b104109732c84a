using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Recall.Actors;
using Recall.Persistence;
using Recall.Projections;

namespace Recall.Hosting.Internal;

/// <summary>
/// Ties the actor system's life to the host's. It uses the lifecycle steps that run around every
/// other hosted service: the system starts in <c>StartingAsync</c>, before any service's
/// <c>StartAsync</c> (so a BackgroundService finds its actors ready), and stops in
/// <c>StoppedAsync</c>, after every service (the web server, the workers) has stopped sending it
/// work. Stopping is graceful: persistent actors refuse new commands, the writes in flight are
/// stored and handled (up to <see cref="RecallOptions.DrainTimeout"/>), then the system terminates.
/// </summary>
internal sealed partial class RecallHostedService(IServiceProvider services, IOptions<RecallOptions> options) : IHostedLifecycleService
{
    private ActorSystem? _system;

    private ILogger Logger => services.GetService<ILoggerFactory>()?.CreateLogger("Recall.Hosting") ?? NullLogger.Instance;

    public Task StartingAsync(CancellationToken cancellationToken)
    {
        _system = services.GetRequiredService<ActorSystem>();
        var registry = services.GetRequiredService<ActorRegistry>(); // spawns the registered actors
        Log.Started(Logger, _system.Name, registry.Names.Count);
        if (registry.Critical.Count > 0)
        {
            _system.SpawnSystemActor(Props.Create(() => new CriticalActorWatch(registry.Critical, OnCriticalActorGone)), "hosting-critical-actors");
        }

        var registrations = services.GetServices<ProjectionRegistration>().ToList();
        if (registrations.Count > 0)
        {
            var projections = services.GetRequiredService<ProjectionRegistry>();
            foreach (var registration in registrations)
            {
                projections.Start(registration.Create(services));
            }
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A critical actor stopped for good: unless the host is stopping anyway, it stops with exit code 1.</summary>
    private void OnCriticalActorGone(string name)
    {
        var lifetime = services.GetService<IHostApplicationLifetime>();
        if (lifetime is null || lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return;
        }

        Log.CriticalActorGone(Logger, name);
        if (Environment.ExitCode == 0)
        {
            Environment.ExitCode = 1;
        }

        lifetime.StopApplication();
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        var system = _system;
        if (system is null)
        {
            return;
        }

        var logger = Logger;
        var timeout = options.Value.DrainTimeout;
        if (system.TryGetExtension<PersistenceExtension>() is { } persistence)
        {
            try
            {
                if (!await persistence.DrainAsync(timeout, cancellationToken))
                {
                    Log.DrainTimedOut(logger, system.Name, timeout);
                }
            }
            catch (OperationCanceledException)
            {
                Log.DrainCancelled(logger, system.Name);
            }
        }

        try
        {
            await system.TerminateAsync().WaitAsync(cancellationToken);
            Log.Stopped(logger, system.Name);
        }
        catch (OperationCanceledException)
        {
            Log.TerminationCancelled(logger, system.Name);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Actor system '{SystemName}' started with {ActorCount} registered actors")]
        public static partial void Started(ILogger logger, string systemName, int actorCount);

        [LoggerMessage(2, LogLevel.Information, "Actor system '{SystemName}' stopped")]
        public static partial void Stopped(ILogger logger, string systemName);

        [LoggerMessage(3, LogLevel.Warning, "Actor system '{SystemName}': writes were still in flight after the drain timeout ({Timeout}); terminating anyway, their handlers will not run")]
        public static partial void DrainTimedOut(ILogger logger, string systemName, TimeSpan timeout);

        [LoggerMessage(4, LogLevel.Warning, "Actor system '{SystemName}': the host's shutdown timeout ended the wait for writes in flight; terminating anyway")]
        public static partial void DrainCancelled(ILogger logger, string systemName);

        [LoggerMessage(5, LogLevel.Warning, "Actor system '{SystemName}' had not terminated when the host's shutdown timeout passed")]
        public static partial void TerminationCancelled(ILogger logger, string systemName);

        [LoggerMessage(6, LogLevel.Critical, "Critical actor '{Name}' has stopped for good (no restarts left, or none configured); stopping the host with exit code 1")]
        public static partial void CriticalActorGone(ILogger logger, string name);
    }
}

/// <summary>Watches the critical registered actors and reports each one that stops.</summary>
internal sealed class CriticalActorWatch(IReadOnlyDictionary<string, IActorRef> actors, Action<string> gone) : Actor
{
    /// <inheritdoc />
    protected override void PreStart()
    {
        foreach (var actor in actors.Values)
        {
            Context.Watch(actor);
        }
    }

    /// <inheritdoc />
    protected override void Receive(object message)
    {
        if (message is Terminated terminated)
        {
            gone(actors.First(a => a.Value.Equals(terminated.Actor)).Key);
        }
    }
}
