using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;
using Recall.Remoting;

namespace Recall.Cluster;

/// <summary>Settings of the cluster: this node's endpoint (remoting), where members and leases live, and the timing of failure detection. Every property has a documented default.</summary>
public sealed class ClusterOptions
{
    /// <summary>Creates the settings. Remoting's own failure detector is off (<see cref="RemotingOptions.NodeGoneAfter"/> is infinite): membership decides when a node is gone.</summary>
    public ClusterOptions() => Remoting.NodeGoneAfter = TimeSpan.MaxValue;

    internal RemotingOptions Remoting { get; } = new();

    /// <summary>Where members live: the database that already holds the journal (SQLite, PostgreSQL), or one shared in-memory store for nodes inside one process. Required.</summary>
    public IMembershipStore? Membership { get; set; }

    /// <summary>This node's roles (e.g. where a singleton or shards may run). Default none.</summary>
    public IReadOnlyList<string> Roles { get; set; } = [];

    /// <summary>How often a member renews its heartbeat, marks silent members down and reads the members. Default 1 s.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A member whose heartbeat (on the store's clock) is older than this is marked Down by any live
    /// member. A node that could not renew its own for this minus a margin (the larger of
    /// <see cref="HeartbeatInterval"/> and a fifth of it) terminates its actor system. Default 5 s.
    /// </summary>
    public TimeSpan DownAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Where leases live: the database that already holds the journal (SQLite, PostgreSQL), or one shared in-memory store for nodes inside one process. Required.</summary>
    public ILeaseStore? Leases { get; set; }

    /// <summary>Where cluster sharding keeps shard homes and remembered entities: the database that already holds the journal (SQLite, PostgreSQL), or one shared in-memory store for nodes inside one process. Required to start sharding.</summary>
    public IShardStore? Shards { get; set; }

    /// <summary>The timing of the leases singletons and shards run under. Default: 5 s leases (as <see cref="DownAfter"/>) renewed every 1.7 s.</summary>
    public LeaseOptions Lease { get; set; } = new() { Duration = TimeSpan.FromSeconds(5) };

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

    /// <summary>Keeps members in <paramref name="store"/>.</summary>
    public ClusterOptions UseMembershipStore(IMembershipStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Membership = store;
        return this;
    }

    /// <summary>Gives this node <paramref name="roles"/>.</summary>
    public ClusterOptions WithRoles(params string[] roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        Roles = [.. roles];
        return this;
    }

    /// <summary>Keeps shard homes and remembered entities in <paramref name="store"/>.</summary>
    public ClusterOptions UseShardStore(IShardStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        Shards = store;
        return this;
    }

    /// <summary>The dashboard this node serves once it joined (<see cref="UseDashboard"/>), or null (the default): none.</summary>
    public Dashboard.DashboardOptions? Dashboard { get; set; }

    /// <summary>
    /// Serves the cluster dashboard from this node on <paramref name="port"/> (on 127.0.0.1 unless
    /// <paramref name="configure"/> sets <see cref="Dashboard.DashboardOptions.Host"/>): members, shards, leases,
    /// projections and dead letters, live. Read-only unless a token is configured.
    /// </summary>
    public ClusterOptions UseDashboard(int port, Action<Dashboard.DashboardOptions>? configure = null)
    {
        var dashboard = new Dashboard.DashboardOptions { Port = port };
        configure?.Invoke(dashboard);
        dashboard.Validate();
        Dashboard = dashboard;
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
        if (Membership is null)
        {
            throw new ArgumentException("ClusterOptions.Membership is not set: keep members in the database of the journal (UseMembershipStore(new SqliteMembershipStore(...)) or new PostgreSqlMembershipStore(...)), or share one InMemoryMembershipStore between nodes of one process.");
        }

        if (Roles.Any(r => string.IsNullOrEmpty(r) || r.Contains(',', StringComparison.Ordinal)))
        {
            throw new ArgumentException($"ClusterOptions.Roles has '{Roles.First(r => string.IsNullOrEmpty(r) || r.Contains(',', StringComparison.Ordinal))}': a role is a non-empty name without commas.");
        }

        if (HeartbeatInterval <= TimeSpan.Zero || DownAfter < HeartbeatInterval * 3)
        {
            throw new ArgumentException($"ClusterOptions.HeartbeatInterval ({HeartbeatInterval}) must be positive and DownAfter ({DownAfter}) at least three heartbeat intervals.");
        }

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
