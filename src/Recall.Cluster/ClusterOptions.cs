using Recall.Persistence.Leases;
using Recall.Remoting;

namespace Recall.Cluster;

/// <summary>Settings of the cluster: this node's endpoint (remoting) and where leases live. Every property has a documented default.</summary>
public sealed class ClusterOptions
{
    internal RemotingOptions Remoting { get; } = new();

    /// <summary>Where leases live: the database that already holds the journal (SQLite, PostgreSQL), or one shared in-memory store for nodes inside one process. Required.</summary>
    public ILeaseStore? Leases { get; set; }

    /// <summary>The timing of the leases singletons run under. Default: 10 s leases renewed every 3.3 s.</summary>
    public LeaseOptions Lease { get; set; } = new();

    /// <summary>How often a node that does not hold a singleton's lease tries to take it. Default 1 s.</summary>
    public TimeSpan SingletonRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Messages a singleton proxy keeps while no singleton is reachable; beyond that they become dead letters. Default 10,000.</summary>
    public int ProxyBufferSize { get; set; } = 10_000;

    /// <summary>Listens on <paramref name="host"/>:<paramref name="port"/> (the node's gRPC endpoint; 0 for a free port).</summary>
    public ClusterOptions Listen(string host, int port)
    {
        Remoting.Listen(host, port);
        return this;
    }

    /// <summary>Mutual TLS between nodes: see <see cref="RemotingOptions.UseCertificate"/>.</summary>
    public ClusterOptions UseCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, System.Security.Cryptography.X509Certificates.X509Certificate2 certificateAuthority)
    {
        Remoting.UseCertificate(certificate, certificateAuthority);
        return this;
    }

    /// <summary>Changes remoting settings beyond the endpoint (queues, timeouts, serialization).</summary>
    public ClusterOptions ConfigureRemoting(Action<RemotingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Remoting);
        return this;
    }

    /// <summary>Keeps leases in <paramref name="store"/>.</summary>
    public ClusterOptions UseLeaseStore(ILeaseStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Leases = store;
        return this;
    }

    internal void Validate()
    {
        if (Leases is null)
        {
            throw new ArgumentException("ClusterOptions.Leases is not set: keep leases in the database of the journal (UseLeaseStore(new SqliteLeaseStore(...)) or new PostgreSqlLeaseStore(...)), or share one InMemoryLeaseStore between nodes of one process.");
        }

        if (SingletonRetryInterval <= TimeSpan.Zero || ProxyBufferSize < 1)
        {
            throw new ArgumentException("ClusterOptions.SingletonRetryInterval must be positive and ProxyBufferSize at least 1.");
        }


    }
}
