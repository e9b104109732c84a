using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Actors.Internal;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Remoting.Internal;

/// <summary>
/// Remoting inside one actor system: the associations to other nodes (one per node incarnation),
/// the encoding of outbound records and the handling of inbound streams. The kernel reaches it
/// as its <see cref="IRemoteProvider"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stop token is cancelled when the node stops, never disposed: inbound streams may still read it.")]
internal sealed partial class RemoteTransport : IRemoteProvider
{
    private readonly ConcurrentDictionary<Address, Association> _associations = new();
    private readonly ConcurrentDictionary<(Address, long), bool> _gone = new();
    private readonly ConcurrentDictionary<Address, GrpcChannel> _channels = new();
    private readonly ConcurrentDictionary<DeadLetterReason, int> _loggedDeadLetters = new();
    private readonly Lock _creating = new();
    private readonly CancellationTokenSource _stopped = new();
    private readonly string _addressText;
    private EventSerialization? _serialization;
    private volatile bool _stopping;

    public RemoteTransport(ActorSystem system, RemotingOptions options)
    {
        System = system;
        Options = options;
        Logger = system.LoggerFactory.CreateLogger("Recall.Remoting");
        Incarnation = NewIncarnation();
        _addressText = system.Address.ToString();
        Metrics = new RemotingMetrics(this);
    }

    public ActorSystem System { get; }

    public RemotingOptions Options { get; }

    public ILogger Logger { get; }

    public long Incarnation { get; }

    public RemotingMetrics Metrics { get; }

    public ICollection<Association> Associations => _associations.Values;

    /// <summary>The configured serialization, else the one persistence uses, else one of remoting's own.</summary>
    public EventSerialization Serialization => _serialization ??= Options.Serialization
        ?? System.TryGetExtension<PersistenceExtension>()?.Serialization
        ?? new EventSerialization();

    private long _nextRequest;

    /// <summary>A number for an identify request, unique in this node's run.</summary>
    public long NextRequest() => Interlocked.Increment(ref _nextRequest);

    public IActorRef RefFor(ActorPath path) => new RemoteActorRef(System, path, AssociationFor(path.Address, 0));

    public async Task<IActorRef> IdentifyAsync(ActorPath path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (path.Address.IsLocal)
        {
            throw new ActorNotFoundException(path, $"its address has no host and port, so it names no other node; this node is {System.Address}");
        }

        var association = AssociationFor(path.Address, 0);
        return await association.IdentifyAsync(path, timeout, cancellationToken)
            ? new RemoteActorRef(System, path, association)
            : throw new ActorNotFoundException(path, $"node {path.Address} has no actor with this path");
    }

    /// <summary>The live association with <paramref name="address"/>, created (and connecting) when there is none.</summary>
    public Association AssociationFor(Address address, long expectedIncarnation)
    {
        if (_associations.TryGetValue(address, out var existing) && !existing.IsGone)
        {
            return existing;
        }

        lock (_creating)
        {
            if (_associations.TryGetValue(address, out existing) && !existing.IsGone)
            {
                return existing;
            }

            var association = new Association(this, address, expectedIncarnation);
            _associations[address] = association;
            if (_stopping)
            {
                association.Quarantine("this node is stopping");
            }
            else
            {
                association.Start();
            }

            return association;
        }
    }

    /// <summary>An association is gone: never talk to that incarnation again.</summary>
    public void Forget(Association association)
    {
        _associations.TryRemove(new KeyValuePair<Address, Association>(association.Remote, association));
        if (association.Incarnation != 0)
        {
            _gone[(association.Remote, association.Incarnation)] = true;
        }
    }

    public bool IsQuarantined(Address address, long incarnation) => _gone.ContainsKey((address, incarnation));

    /// <summary>
    /// Another authority (membership) says this run of the node is gone: quarantine its association
    /// if it is that run (or, when no other run is live, one that never learned its run), and refuse
    /// that run from now on.
    /// </summary>
    public void DeclareGone(Address address, long incarnation, string reason, bool noOtherRun)
    {
        _gone[(address, incarnation)] = true;
        if (_associations.TryGetValue(address, out var association) && (association.Incarnation == incarnation || (noOtherRun && association.Incarnation == 0)))
        {
            association.Quarantine(reason);
        }
    }

    public AsyncDuplexStreamingCall<Frame, Frame> Connect(Address address, CancellationToken cancellationToken)
    {
        var channel = _channels.GetOrAdd(address, CreateChannel);
        var headers = new Metadata
        {
            { Transport.FromHeader, _addressText },
            { Transport.FromIncarnationHeader, Incarnation.ToString(CultureInfo.InvariantCulture) },
            { Transport.ToHeader, address.ToString() },
        };
        return channel.CreateCallInvoker().AsyncDuplexStreamingCall(Transport.Stream, null, new CallOptions(headers, cancellationToken: cancellationToken));
    }

    /// <summary>Writes one record; false when it was not written (a message that became a dead letter, or a control record).</summary>
    public bool Encode(in Outbound item, FrameWriter writer, OutboundTables tables)
    {
        tables.Reserve(writer);
        switch (item.Kind)
        {
            case RecordKind.Message:
                return EncodeMessage(item, writer, tables);
            case RecordKind.Watch or RecordKind.Unwatch:
            {
                var watchee = tables.Path(item.Path, writer);
                var watcher = tables.Path(item.Other!, writer);
                writer.Kind(item.Kind);
                watchee.WriteTo(writer);
                watcher.WriteTo(writer);
                return false;
            }

            case RecordKind.Terminated:
            {
                var stopped = tables.Path(item.Other!, writer);
                var watcher = tables.Path(item.Path, writer);
                writer.Kind(RecordKind.Terminated);
                stopped.WriteTo(writer);
                watcher.WriteTo(writer);
                return false;
            }

            case RecordKind.Identify:
            {
                var path = tables.Path(item.Path, writer);
                writer.Kind(RecordKind.Identify);
                writer.Number(item.Request);
                path.WriteTo(writer);
                return false;
            }

            case RecordKind.Identified:
                writer.Kind(RecordKind.Identified);
                writer.Number(item.Request);
                writer.Byte(item.Message is true ? (byte)1 : (byte)0);
                return false;
            case RecordKind.Leaving:
                writer.Kind(RecordKind.Leaving);
                return false;
            case RecordKind.AskFailed:
            {
                var asker = tables.Path(item.Path, writer);
                writer.Kind(RecordKind.AskFailed);
                asker.WriteTo(writer);
                writer.Text((string)item.Message!);
                return false;
            }

            default:
                throw new InvalidOperationException($"Record kind {item.Kind} is not sent from the outbound queue.");
        }
    }

    public void DeadLetter(object message, IActorRef? sender, IActorRef recipient, DeadLetterReason reason, string? detail = null)
    {
        Metrics.DeadLetter(reason);
        if (_loggedDeadLetters.AddOrUpdate(reason, 1, static (_, count) => count + 1) <= System.Options.DeadLetterLogLimit)
        {
            Log.DeadLetter(Logger, message.GetType().Name, recipient.Path, reason.Name(), detail ?? reason.Explanation());
        }

        System.DeadLetters.Tell(new DeadLetter(message, sender, recipient), sender);
    }

    /// <summary>Serves one inbound stream: the frames another node sends to this one.</summary>
    public async Task ServeAsync(IAsyncStreamReader<Frame> requests, ServerCallContext context)
    {
        var headers = context.RequestHeaders;
        var to = headers.GetValue(Transport.ToHeader);
        if (!string.Equals(to, _addressText, StringComparison.Ordinal))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"This node is {_addressText}, not {to}."));
        }

        if (!ActorPath.TryParse(headers.GetValue(Transport.FromHeader), out var from) || from.Address.IsLocal
            || !long.TryParse(headers.GetValue(Transport.FromIncarnationHeader), NumberStyles.None, CultureInfo.InvariantCulture, out var incarnation))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "A remoting stream must say which node it comes from (address and incarnation)."));
        }

        var peer = from.Address;
        if (IsQuarantined(peer, incarnation))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, $"{peer} incarnation {incarnation} was declared gone by {_addressText}; restart it to rejoin."));
        }

        await context.WriteResponseHeadersAsync(new Metadata { { Transport.IncarnationHeader, Incarnation.ToString(CultureInfo.InvariantCulture) } });
        var association = AssociationFor(peer, incarnation);
        if (association.Incarnation != 0 && association.Incarnation != incarnation)
        {
            association.Quarantine($"it restarted (incarnation {association.Incarnation} is now {incarnation})");
            association = AssociationFor(peer, incarnation);
        }

        association.Learn(incarnation); // an association that has not connected out yet knows its peer's run now

        // The request's own activity (if the host records one) lasts as long as the stream: messages
        // carry their senders' trace context instead.
        Activity.Current = null;
        var tables = new InboundTables();
        using var serving = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopped.Token);
        try
        {
            while (await requests.MoveNext(serving.Token))
            {
                var frame = requests.Current;
                try
                {
                    Metrics.Received(peer, frame.Data.Length);
                    if (!Dispatch(frame.Data.Span, peer, incarnation, tables))
                    {
                        return; // the peer leaves
                    }
                }
                finally
                {
                    frame.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stopped.IsCancellationRequested)
        {
            // this node stops: end the stream so that the server can stop at once
        }
    }

    public async Task StopAsync()
    {
        _stopping = true;
        await Task.WhenAll(_associations.Values.Select(a => a.StopAsync(TimeSpan.FromSeconds(2))));
        foreach (var association in _associations.Values)
        {
            association.Quarantine("this node stopped");
        }

        _stopped.Cancel();
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        Metrics.Dispose();
    }

    private static long NewIncarnation()
    {
        long value;
        do
        {
            value = Random.Shared.NextInt64(1, long.MaxValue);
        }
        while (value == 0);
        return value;
    }

    private bool EncodeMessage(in Outbound item, FrameWriter writer, OutboundTables tables)
    {
        var message = item.Message!;
        SerializedPayload payload;
        try
        {
            payload = Serialization.Serialize(message);
        }
        catch (Exception exception)
        {
            DeadLetter(message, item.Sender, item.Target!, DeadLetterReason.Unserializable, exception.Message);
            return false;
        }

        if (payload.Data.Length > Options.MaxFrameBytes - 1024)
        {
            DeadLetter(message, item.Sender, item.Target!, DeadLetterReason.Oversized,
                $"its payload is {payload.Data.Length:N0} bytes and RemotingOptions.MaxFrameBytes is {Options.MaxFrameBytes:N0}");
            return false;
        }

        var recipient = tables.Path(item.Path, writer);
        var sender = PathRef.None;
        if (item.Sender is { } senderRef)
        {
            if (senderRef is PromiseActorRef promise)
            {
                System.RegisterTempRef(promise); // the reply comes back by path
            }

            sender = tables.Path(senderRef.Path, writer);
        }

        var manifest = tables.Manifest(payload.Manifest, writer);
        writer.Kind(RecordKind.Message);
        recipient.WriteTo(writer);
        sender.WriteTo(writer);
        writer.Number(manifest);
        writer.Text(item.Trace ?? "");
        writer.Bytes(payload.Data);
        return true;
    }

    private bool Dispatch(ReadOnlySpan<byte> frame, Address peer, long incarnation, InboundTables tables)
    {
        using var scope = ActorRefJsonConverter.Use(System);
        var reader = new FrameReader(frame);
        var messages = 0;
        while (!reader.AtEnd)
        {
            switch (reader.Kind())
            {
                case RecordKind.DefinePath:
                    tables.DefinePath(reader.Number(), reader.Text());
                    break;
                case RecordKind.DefineManifest:
                    tables.DefineManifest(reader.Number(), reader.Text());
                    break;
                case RecordKind.ResetTables:
                    tables.Clear();
                    break;
                case RecordKind.Message:
                    Deliver(ref reader, tables);
                    messages++;
                    break;
                case RecordKind.Watch:
                {
                    var watchee = tables.Path(PathRef.ReadFrom(ref reader));
                    var watcher = (IInternalActorRef)tables.Resolve(PathRef.ReadFrom(ref reader), System);
                    IInternalActorRef subject = System.LookupLocal(watchee) ?? new MissingActorRef(System, watchee);
                    (watcher as RemoteActorRef)?.Association.WatchedHere(subject, (RemoteActorRef)watcher, watching: true);
                    subject.SendSystemMessage(new Watch(watcher));
                    if (watcher is RemoteActorRef { Association.IsGone: true })
                    {
                        subject.SendSystemMessage(new Unwatch(watcher)); // its peer went while this watch arrived
                    }

                    break;
                }

                case RecordKind.Unwatch:
                {
                    var watchee = System.LookupLocal(tables.Path(PathRef.ReadFrom(ref reader)));
                    var watcher = (IInternalActorRef)tables.Resolve(PathRef.ReadFrom(ref reader), System);
                    if (watchee is not null)
                    {
                        (watcher as RemoteActorRef)?.Association.WatchedHere(watchee, (RemoteActorRef)watcher, watching: false);
                        watchee.SendSystemMessage(new Unwatch(watcher));
                    }

                    break;
                }

                case RecordKind.Terminated:
                {
                    var stopped = tables.Resolve(PathRef.ReadFrom(ref reader), System);
                    var watcher = tables.Local(PathRef.ReadFrom(ref reader), System);
                    if (watcher is not null && stopped is RemoteActorRef remote)
                    {
                        remote.Association.Terminated(remote, watcher);
                    }

                    break;
                }

                case RecordKind.Identify:
                {
                    var request = reader.Number();
                    var found = System.LookupLocal(tables.Path(PathRef.ReadFrom(ref reader))) is not null;
                    AssociationFor(peer, incarnation).Send(new Outbound(RecordKind.Identified, null, found, null, null, request, ActorPath.Root(peer)));
                    break;
                }

                case RecordKind.Identified:
                {
                    var request = reader.Number();
                    var found = reader.Byte() == 1;
                    if (_associations.TryGetValue(peer, out var association))
                    {
                        association.Identified(request, found);
                    }

                    break;
                }

                case RecordKind.AskFailed:
                {
                    var asker = tables.Local(PathRef.ReadFrom(ref reader), System);
                    var reason = reader.Text();
                    (asker as PromiseActorRef)?.SendSystemMessage(new AskFailed(reason));
                    break;
                }

                case RecordKind.Leaving:
                    if (_associations.TryGetValue(peer, out var leaving) && (leaving.Incarnation == 0 || leaving.Incarnation == incarnation))
                    {
                        leaving.Quarantine("it left");
                    }

                    _gone[(peer, incarnation)] = true;
                    Metrics.ReceivedMessages(peer, messages);
                    return false;
                case var unknown:
                    throw new InvalidDataException($"Unknown record kind {(byte)unknown} in a remoting frame from {peer}.");
            }
        }

        Metrics.ReceivedMessages(peer, messages);
        return true;
    }

    private void Deliver(ref FrameReader reader, InboundTables tables)
    {
        var recipientPath = PathRef.ReadFrom(ref reader);
        var senderPath = PathRef.ReadFrom(ref reader);
        var manifestNumber = reader.Number();
        var trace = reader.Bytes();
        var payload = reader.Bytes();
        var recipient = tables.Local(recipientPath, System);
        var sender = senderPath.IsNone ? null : tables.Resolve(senderPath, System);
        object message;
        try
        {
            var type = tables.Type(manifestNumber, Serialization.Registry.TypeOf);
            message = Serialization.SerializerFor(type).Deserialize(payload, type);
        }
        catch (Exception exception)
        {
            var manifest = tables.Manifest(manifestNumber);
            var reason = exception is UnknownManifestException ? DeadLetterReason.UnknownManifest : DeadLetterReason.Undeserializable;
            DeadLetter(new UndeliverableRemoteMessage(manifest, exception.Message), sender, (IActorRef?)recipient ?? new MissingActorRef(System, tables.Path(recipientPath)), reason, exception.Message);
            return;
        }

        if (recipient is null)
        {
            DeadLetter(message, sender, new MissingActorRef(System, tables.Path(recipientPath)), DeadLetterReason.UnknownRecipient);
            return;
        }

        if (!trace.IsEmpty && recipient is LocalActorRef && ActivityContext.TryParse(Encoding.UTF8.GetString(trace), null, out var parent))
        {
            message = new TracedMessage(message, parent); // the actor handles it as part of the sender's trace
        }

        recipient.Tell(message, sender);
    }

    private GrpcChannel CreateChannel(Address address)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(2),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(4),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            EnableMultipleHttp2Connections = false,
        };
        if (Options.Certificate is { } certificate)
        {
            var authority = Options.CertificateAuthority!;
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = new X509CertificateCollection { certificate },
                RemoteCertificateValidationCallback = (_, peerCertificate, _, _) =>
                    peerCertificate is not null && CertificateTrust.IsSignedBy(new X509Certificate2(peerCertificate), authority),
            };
        }

        var host = address.Host!.Contains(':', StringComparison.Ordinal) ? $"[{address.Host}]" : address.Host;
        return GrpcChannel.ForAddress($"{(Options.UsesTls ? "https" : "http")}://{host}:{address.Port}", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxSendMessageSize = Options.MaxFrameBytes * 2,
            MaxReceiveMessageSize = Options.MaxFrameBytes * 2,
        });
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "Remoting: {MessageType} to {Recipient} is a dead letter ({Reason}): {Detail}")]
        public static partial void DeadLetter(ILogger logger, string messageType, ActorPath recipient, string reason, string detail);
    }
}

/// <summary>A message from another node that could not be read; it stands in for it among the dead letters.</summary>
/// <param name="Manifest">The manifest it arrived with.</param>
/// <param name="Reason">Why it could not be read.</param>
internal sealed record UndeliverableRemoteMessage(string Manifest, string Reason);
