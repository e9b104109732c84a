using Recall.Actors;
using Recall.Persistence.Serialization;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

/// <summary>Actor systems with remoting on free loopback ports, stopped when the test ends.</summary>
internal sealed class Nodes : IAsyncDisposable
{
    private readonly List<ActorSystem> _systems = [];

    public static TimeSpan Timeout => TestKitSettings.Dilated(TimeSpan.FromSeconds(10));

    public ActorSystem Start(string name, Action<RemotingOptions>? configure = null, Action<ActorSystemOptions>? system = null)
    {
        var started = ActorSystem.Create(name, o =>
        {
            system?.Invoke(o);
            o.UseRemoting(r =>
            {
                r.Listen("127.0.0.1", 0);
                r.Serialization = NewSerialization();
                r.NodeGoneAfter = TimeSpan.FromSeconds(3);
                configure?.Invoke(r);
            });
        });
        _systems.Add(started);
        return started;
    }

    public static EventSerialization NewSerialization()
    {
        var serialization = new EventSerialization();
        serialization.Registry.RegisterAssemblyOf<Ping>();
        return serialization;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var system in _systems)
        {
            await system.TerminateAsync();
        }
    }
}

/// <summary>Polls a condition no message announces.</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Nodes.Timeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
