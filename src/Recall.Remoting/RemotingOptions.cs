using System.Net;
using System.Security.Cryptography.X509Certificates;
using Recall.Persistence.Serialization;

namespace Recall.Remoting;

/// <summary>Settings of remoting: where this node listens, its certificates, and the limits that keep memory bounded. Every property has a documented default.</summary>
public sealed class RemotingOptions
{
    /// <summary>The host this node listens on and other nodes reach it at. Default <c>127.0.0.1</c>.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The port this node listens on; 0 (the default) picks a free one when the system starts.</summary>
    public int Port { get; set; }

    /// <summary>This node's certificate (with its private key), signed by <see cref="CertificateAuthority"/>. Default none: only loopback addresses are allowed then.</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>The cluster's certificate authority: a peer is accepted only with a certificate it signed.</summary>
    public X509Certificate2? CertificateAuthority { get; set; }

    /// <summary>
    /// Messages waiting to be sent to one peer before further ones become dead letters. Default
    /// 1,000,000: a burst from fast senders is absorbed, while a peer that is gone for long cannot
    /// take all memory.
    /// </summary>
    public int OutboundQueueCapacity { get; set; } = 1_000_000;

    /// <summary>The largest frame (a batch of messages) in bytes; a single message larger than this becomes a dead letter. Default 4 MiB.</summary>
    public int MaxFrameBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most messages one frame carries. Default 1,000.</summary>
    public int MaxMessagesPerFrame { get; set; } = 1000;

    /// <summary>
    /// How long a peer may stay unreachable before it counts as gone: its watchers get
    /// <c>Terminated</c>, queued messages become dead letters and that incarnation is never
    /// talked to again. Default 10 s.
    /// </summary>
    public TimeSpan NodeGoneAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The first wait before reconnecting to a peer; it doubles up to <see cref="ReconnectMaxBackoff"/>. Default 100 ms.</summary>
    public TimeSpan ReconnectMinBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between reconnection attempts. Default 2 s.</summary>
    public TimeSpan ReconnectMaxBackoff { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The manifest registry and serializer of messages. Default: the one events use when
    /// persistence is configured (so one registration serves both), else a registry of its own
    /// with System.Text.Json.
    /// </summary>
    public EventSerialization? Serialization { get; set; }

    /// <summary>Listens on <paramref name="host"/>:<paramref name="port"/> (0 for a free port).</summary>
    public RemotingOptions Listen(string host, int port)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        Host = host;
        Port = port;
        return this;
    }

    /// <summary>Mutual TLS: this node presents <paramref name="certificate"/> and accepts peers whose certificate <paramref name="certificateAuthority"/> signed.</summary>
    public RemotingOptions UseCertificate(X509Certificate2 certificate, X509Certificate2 certificateAuthority)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(certificateAuthority);
        Certificate = certificate;
        CertificateAuthority = certificateAuthority;
        return this;
    }

    internal bool UsesTls => Certificate is not null;

    /// <summary>How many paths and manifests one stream numbers before it starts over (small in tests of the start-over).</summary>
    internal int PathTableCapacity { get; set; } = Internal.OutboundTables.DefaultCapacity;

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("RemotingOptions.Host must name the host this node listens on.", nameof(Host));
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "RemotingOptions.Port must be from 0 (a free port) to 65535.");
        }

        if ((Certificate is null) != (CertificateAuthority is null))
        {
            throw new ArgumentException("RemotingOptions.Certificate and RemotingOptions.CertificateAuthority go together: set both (UseCertificate) or neither.");
        }

        if (Certificate is { HasPrivateKey: false })
        {
            throw new ArgumentException($"RemotingOptions.Certificate ({Certificate.Subject}) has no private key; a node must be able to prove it owns its certificate.");
        }

        if (Certificate is null && !IsLoopback(Host))
        {
            throw new ArgumentException(
                $"RemotingOptions.Host is '{Host}', which is not a loopback address, and no certificate is set: " +
                "other machines could send messages unauthenticated. Call UseCertificate(nodeCertificate, clusterCa), or listen on 127.0.0.1.");
        }

        RequirePositive(OutboundQueueCapacity, nameof(OutboundQueueCapacity));
        RequirePositive(MaxMessagesPerFrame, nameof(MaxMessagesPerFrame));
        if (MaxFrameBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFrameBytes), MaxFrameBytes, "RemotingOptions.MaxFrameBytes must be at least 1,024.");
        }

        if (NodeGoneAfter <= TimeSpan.Zero || ReconnectMinBackoff <= TimeSpan.Zero || ReconnectMaxBackoff < ReconnectMinBackoff)
        {
            throw new ArgumentOutOfRangeException(nameof(NodeGoneAfter), "RemotingOptions.NodeGoneAfter and ReconnectMinBackoff must be positive, and ReconnectMaxBackoff at least ReconnectMinBackoff.");
        }
    }

    internal static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private static void RequirePositive(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"RemotingOptions.{name} must be at least 1.");
        }
    }
}
