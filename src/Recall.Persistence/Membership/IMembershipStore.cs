namespace Recall.Persistence.Membership;

/// <summary>Where a member is in its life in the cluster. The numbers order the states a member moves through; Down is apart.</summary>
public enum MemberStatus
{
    /// <summary>Its row is written; it is not serving yet.</summary>
    Joining = 0,

    /// <summary>A full member.</summary>
    Up = 1,

    /// <summary>It leaves: it hands over what it runs.</summary>
    Leaving = 2,

    /// <summary>It has handed over and is shutting down.</summary>
    Exiting = 3,

    /// <summary>It left; its row stays until a new node takes its address.</summary>
    Removed = 4,

    /// <summary>It stopped renewing its heartbeat and another member marked it so; it must not act again.</summary>
    Down = 5,
}

/// <summary>A member as its store keeps it.</summary>
/// <param name="Address">The node's address, e.g. <c>recall://shop@10.0.0.5:7400</c>: one row per address.</param>
/// <param name="Incarnation">The node's incarnation (a restarted node at the same address has another).</param>
/// <param name="Status">Where it is in its life.</param>
/// <param name="Roles">Its roles, as configured.</param>
/// <param name="JoinedAt">When this incarnation joined, on the store's clock.</param>
/// <param name="HeartbeatAt">Its last heartbeat, on the store's clock.</param>
public sealed record MemberRecord(string Address, long Incarnation, MemberStatus Status, IReadOnlyList<string> Roles, DateTimeOffset JoinedAt, DateTimeOffset HeartbeatAt)
{
    /// <summary>Whether it still counts as a member (Joining to Exiting): neither Removed nor Down.</summary>
    public bool IsLive => Status < MemberStatus.Removed;
}

/// <summary>
/// Where the cluster's members live: a table in the database that already holds the journal. The
/// database decides, never a vote among nodes: each call is one conditional statement on its
/// clock, so two nodes that race get one answer.
/// </summary>
/// <remarks>
/// <para><b>Join.</b> <see cref="TryJoinAsync"/> writes the node as Joining with a heartbeat of now.
/// An address has one row: it replaces a row whose member is Removed, Down, or silent for longer
/// than <c>staleAfter</c>, and refuses (null) while another incarnation at the address is live.</para>
/// <para><b>Heartbeat.</b> <see cref="HeartbeatAsync"/> renews the heartbeat of a live incarnation; null
/// means the node is no longer a member (marked Down, removed, or replaced) and must stop.</para>
/// <para><b>Status.</b> <see cref="SetStatusAsync"/> moves a live incarnation forward only (Joining,
/// Up, Leaving, Exiting, Removed); <see cref="DownUnresponsiveAsync"/> marks Down every live member
/// whose heartbeat is older than its argument, and returns them.</para>
/// </remarks>
public interface IMembershipStore
{
    /// <summary>Writes the node as Joining; null while another live incarnation holds the address.</summary>
    ValueTask<MemberRecord?> TryJoinAsync(string address, long incarnation, IReadOnlyList<string> roles, TimeSpan staleAfter, CancellationToken cancellationToken);

    /// <summary>Renews the heartbeat; null when this incarnation is no longer a live member.</summary>
    ValueTask<MemberRecord?> HeartbeatAsync(string address, long incarnation, CancellationToken cancellationToken);

    /// <summary>Moves a live incarnation forward to <paramref name="status"/> (never back, never to Down); null when it is not live or already further.</summary>
    ValueTask<MemberRecord?> SetStatusAsync(string address, long incarnation, MemberStatus status, CancellationToken cancellationToken);

    /// <summary>Marks Down every live member whose heartbeat is older than <paramref name="downAfter"/>; returns those it marked.</summary>
    ValueTask<IReadOnlyList<MemberRecord>> DownUnresponsiveAsync(TimeSpan downAfter, CancellationToken cancellationToken);

    /// <summary>Every row, ordered by address.</summary>
    ValueTask<IReadOnlyList<MemberRecord>> ReadAllAsync(CancellationToken cancellationToken);
}

/// <summary>The argument rules every membership store applies, with errors that name the member.</summary>
internal static class MembershipArguments
{
    internal static void Check(string address, long incarnation)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        if (incarnation == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(incarnation), incarnation, $"The incarnation of member {address} must not be 0 (0 stands for an unknown incarnation).");
        }
    }

    internal static void CheckRoles(string address, IReadOnlyList<string> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        foreach (var role in roles)
        {
            if (string.IsNullOrEmpty(role) || role.Contains(',', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Member {address} has the role '{role}': a role is a non-empty name without commas.", nameof(roles));
            }
        }
    }

    internal static void CheckPositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }

    internal static void CheckForward(string address, MemberStatus status)
    {
        if (status is MemberStatus.Joining or MemberStatus.Down || !Enum.IsDefined(status))
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, $"Member {address} can be moved to Up, Leaving, Exiting or Removed; Joining is written by joining and Down by DownUnresponsiveAsync.");
        }
    }
}
