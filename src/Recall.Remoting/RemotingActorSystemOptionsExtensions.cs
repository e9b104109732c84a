using System.Net;
using System.Net.Sockets;
using Recall.Actors;

namespace Recall.Remoting;

/// <summary>Turns remoting on for an actor system, and reaches it afterwards.</summary>
public static class RemotingActorSystemOptionsExtensions
{
    /// <summary>
    /// Makes the system reachable from other processes: it listens for other nodes (gRPC over
    /// HTTP/2 on Kestrel) and its refs to paths of other systems send over the network.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it (for example a non-loopback host without a certificate).</exception>
    public static ActorSystemOptions UseRemoting(this ActorSystemOptions options, Action<RemotingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        var remoting = new RemotingOptions();
        configure(remoting);
        return options.UseRemoting(remoting);
    }

    /// <summary>Turns remoting on with <paramref name="remoting"/> (see the overload that configures them).</summary>
    /// <exception cref="ArgumentException">A setting is invalid; the message names it.</exception>
    public static ActorSystemOptions UseRemoting(this ActorSystemOptions options, RemotingOptions remoting)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(remoting);
        remoting.Validate();
        if (remoting.Port == 0)
        {
            remoting.Port = FreePort(remoting.Host);
        }

        options.Host = remoting.Host;
        options.Port = remoting.Port;
        options.AddExtension(system => RemotingExtension.Start(system, remoting));
        return options;
    }

    /// <summary>The system's remoting.</summary>
    /// <exception cref="InvalidOperationException">The system was created without <c>UseRemoting</c>.</exception>
    public static RemotingExtension Remoting(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<RemotingExtension>()
            ?? throw new InvalidOperationException($"Actor system '{system.Name}' has no remoting: create it with options.UseRemoting(r => r.Listen(host, port)).");
    }

    private static int FreePort(string host)
    {
        var address = string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed : IPAddress.Any;
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
