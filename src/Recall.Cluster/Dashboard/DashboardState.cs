using System.Text.Json.Serialization;
using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;

namespace Recall.Cluster.Dashboard;

/// <summary>What the dashboard shows at one moment; sent to the page as JSON.</summary>
/// <param name="Source">What serves it: a node's address, or the database the <c>recall</c> tool reads.</param>
/// <param name="ReadAt">When it was read.</param>
/// <param name="Members">Every member row, newest incarnation first per address.</param>
/// <param name="Shards">Every shard of cluster sharding with its home and entities.</param>
/// <param name="Leases">Every lease: singletons (<c>singleton:NAME</c>) and shards (<c>shard:TYPE:ID</c>).</param>
/// <param name="Projections">The projections: those running on the serving node, or the stored offsets.</param>
/// <param name="DeadLetters">Dead letters of the serving node since it started; null when not served by a node.</param>
/// <param name="ActionsAllowed">Whether actions are possible (a token is configured and the source can act).</param>
/// <param name="Problems">What could not be read this time (each names the part), empty when all was read.</param>
public sealed record DashboardState(
    string Source,
    DateTimeOffset ReadAt,
    IReadOnlyList<DashboardMember> Members,
    IReadOnlyList<DashboardShard> Shards,
    IReadOnlyList<DashboardLease> Leases,
    IReadOnlyList<DashboardProjection> Projections,
    long? DeadLetters,
    bool ActionsAllowed,
    IReadOnlyList<string> Problems);

/// <summary>A member row as the dashboard shows it.</summary>
/// <param name="Address">The node's address.</param>
/// <param name="Incarnation">Which start of the node (a 64-bit number, written as a string: JavaScript numbers cannot hold it).</param>
/// <param name="Status">Joining, Up, Leaving, Exiting, Removed or Down.</param>
/// <param name="Roles">Its roles.</param>
/// <param name="JoinedAt">When it joined.</param>
/// <param name="HeartbeatAgeSeconds">How old its heartbeat is, on the reader's clock; null once it is out.</param>
/// <param name="IsServing">Whether this is the node that serves the dashboard.</param>
public sealed record DashboardMember(string Address, [property: JsonNumberHandling(JsonNumberHandling.WriteAsString)] long Incarnation, string Status, IReadOnlyList<string> Roles, DateTimeOffset JoinedAt, double? HeartbeatAgeSeconds, bool IsServing)
{
    /// <summary>The row for <paramref name="member"/>, read at <paramref name="now"/>.</summary>
    public static DashboardMember From(MemberRecord member, DateTimeOffset now, string? serving = null)
    {
        ArgumentNullException.ThrowIfNull(member);
        return new DashboardMember(
            member.Address,
            member.Incarnation,
            member.Status.ToString(),
            member.Roles,
            member.JoinedAt,
            member.IsLive ? Math.Round(Math.Max(0, (now - member.HeartbeatAt).TotalSeconds), 1) : null,
            member.Address == serving);
    }
}

/// <summary>A shard as the dashboard shows it.</summary>
/// <param name="Type">The sharded entity type.</param>
/// <param name="ShardId">The shard.</param>
/// <param name="Node">Its home, or null while it has none.</param>
/// <param name="Entities">Entities running in it now, as its home's region counts them; null when not known (the home did not answer, or the dashboard reads only the database).</param>
/// <param name="RememberedEntities">Entities it remembers (with remember-entities on).</param>
public sealed record DashboardShard(string Type, string ShardId, string? Node, int? Entities, int RememberedEntities)
{
    /// <summary>The row for <paramref name="shard"/>, with the running entities when known.</summary>
    public static DashboardShard From(ShardSummary shard, int? entities)
    {
        ArgumentNullException.ThrowIfNull(shard);
        return new DashboardShard(shard.TypeName, shard.ShardId, shard.Node, entities, shard.RememberedEntities);
    }
}

/// <summary>A lease as the dashboard shows it.</summary>
/// <param name="Name">The lease, e.g. <c>singleton:orders</c> or <c>shard:wallet:7</c>.</param>
/// <param name="Holder">Who holds (or last held) it.</param>
/// <param name="HolderAddress">The holder's node address.</param>
/// <param name="FencingToken">The token the holder writes with.</param>
/// <param name="ExpiresAt">When it expires unless renewed.</param>
/// <param name="Held">Whether it is held now (not expired).</param>
public sealed record DashboardLease(string Name, string Holder, string HolderAddress, long FencingToken, DateTimeOffset ExpiresAt, bool Held)
{
    /// <summary>The row for <paramref name="lease"/>, read at <paramref name="now"/>.</summary>
    public static DashboardLease From(LeaseRecord lease, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(lease);
        string address;
        try
        {
            address = ClusterExtension.AddressOfHolder(lease.Holder).ToString();
        }
        catch (FormatException)
        {
            address = lease.Holder;
        }

        return new DashboardLease(lease.Name, lease.Holder, address, lease.FencingToken, lease.ExpiresAt, lease.ExpiresAt > now);
    }
}

/// <summary>A projection as the dashboard shows it.</summary>
/// <param name="Name">The projection's name.</param>
/// <param name="Key">Its source's key (tag or slice range).</param>
/// <param name="State">Running, Paused, Failed or Stopped.</param>
/// <param name="Offset">The offset of the last handled event.</param>
/// <param name="LagEvents">Events waiting after it, when measured.</param>
/// <param name="LagSeconds">The newest waiting event's age relative to the last handled one, when measured.</param>
/// <param name="LastError">Its last failure, or null.</param>
/// <param name="RunsHere">Whether it runs on the serving node (so that it can be paused or resumed there).</param>
public sealed record DashboardProjection(string Name, string Key, string State, string Offset, long? LagEvents, double? LagSeconds, string? LastError, bool RunsHere);
