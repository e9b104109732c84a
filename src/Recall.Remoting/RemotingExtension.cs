using System.Net;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Remoting.Internal;

namespace Recall.Remoting;

/// <summary>
/// Remoting in one actor system: the gRPC endpoint other nodes send to, and the connections this
/// node keeps to them. Reach it with <c>system.Remoting()</c>; refs to other nodes come from
/// <c>system.ResolveAsync(path)</c> or inside messages.
/// </summary>
public sealed partial class RemotingExtension : IAsyncDisposable
{
    private readonly WebApplication _server;
    private readonly RemoteTransport _transport;

    private RemotingExtension(RemoteTransport transport, WebApplication server)
    {
        _transport = transport;
        _server = server;
    }

    /// <summary>This node's address, as other nodes write it in paths.</summary>
    public Address Address => _transport.System.Address;

    /// <summary>A number that tells this run of the node from earlier and later ones at the same address.</summary>
    public long Incarnation => _transport.Incarnation;

    /// <summary>The settings.</summary>
    public RemotingOptions Options => _transport.Options;

    /// <summary>The nodes this one has a live association with, and whether each is connected now.</summary>
    public IReadOnlyList<RemotePeer> Peers =>
        [.. _transport.Associations.Where(a => !a.IsGone).Select(a => new RemotePeer(a.Remote, a.Incarnation, a.IsConnected, a.QueueDepth))];

    internal RemoteTransport Transport => _transport;

    /// <summary>
    /// Declares the node at <paramref name="address"/> in run <paramref name="incarnation"/> gone, as
    /// cluster membership does for members that are Down or have left: watchers of its actors get
    /// <see cref="Terminated"/>, what is queued for it becomes dead letters, and that run is never
    /// talked to again (a new run at the address is another peer). With
    /// <paramref name="noOtherRun"/> (no run of that node is live at all) a connection that never
    /// learned which run it reaches is given up too.
    /// </summary>
    public void DeclareGone(Address address, long incarnation, string reason, bool noOtherRun = false)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentException.ThrowIfNullOrEmpty(reason);
        _transport.DeclareGone(address, incarnation, reason, noOtherRun);
    }

    /// <summary>Stops sending (what is queued gets up to 2 s), tells peers this node leaves, and closes the endpoint.</summary>
    public async ValueTask DisposeAsync()
    {
        await _transport.StopAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            await _server.StopAsync(timeout.Token);
        }

        await _server.DisposeAsync();
    }

    internal static RemotingExtension Start(ActorSystem system, RemotingOptions options)
    {
        var transport = new RemoteTransport(system, options);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(2);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(4);
            kestrel.Listen(ListenAddress(options.Host), options.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (options.Certificate is { } certificate)
                {
                    var authority = options.CertificateAuthority!;
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = certificate;
                        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                        https.ClientCertificateValidation = (peer, _, _) => CertificateTrust.IsSignedBy(peer, authority);
                    });
                }
            });
        });
        builder.Services.AddSingleton(system.LoggerFactory);
        builder.Services.AddRoutingCore();
        builder.Services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxFrameBytes * 2;
            grpc.EnableDetailedErrors = true;
        });
        builder.Services.AddSingleton(transport);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<StreamService>, StreamService.MethodProvider>());
        var server = builder.Build();
        server.UseRouting();
        server.MapGrpcService<StreamService>();
        try
        {
            server.StartAsync().GetAwaiter().GetResult();
        }
        catch (Exception exception)
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw new InvalidOperationException(
                $"Remoting of '{system.Name}' could not listen on {options.Host}:{options.Port} (RemotingOptions.Host/Port): {exception.GetBaseException().Message}", exception);
        }

        system.RemoteProvider = transport;
        Log.Listening(transport.Logger, system.Address, options.UsesTls ? "mutual TLS" : "plain HTTP/2 (loopback only)");
        return new RemotingExtension(transport, server);
    }

    private static IPAddress ListenAddress(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : IPAddress.Any;

    /// <summary>The gRPC service: one method, the stream of frames from another node.</summary>
    internal sealed class StreamService(RemoteTransport transport)
    {
        public Task Serve(IAsyncStreamReader<Frame> requests, ServerCallContext context) => transport.ServeAsync(requests, context);

        internal sealed class MethodProvider : IServiceMethodProvider<StreamService>
        {
            public void OnServiceMethodDiscovery(ServiceMethodProviderContext<StreamService> context) =>
                context.AddDuplexStreamingMethod(Internal.Transport.Stream, [], static (service, requests, _, call) => service.Serve(requests, call));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Information, "Remoting: {Address} listens ({Security})")]
        public static partial void Listening(ILogger logger, Address address, string security);
    }
}

/// <summary>Another node this one talks to.</summary>
/// <param name="Address">Its address.</param>
/// <param name="Incarnation">Its incarnation, 0 until the first connection.</param>
/// <param name="IsConnected">Whether the stream to it is open now.</param>
/// <param name="QueuedMessages">Messages waiting to be sent to it.</param>
public sealed record RemotePeer(Address Address, long Incarnation, bool IsConnected, int QueuedMessages);
