using Recall.Actors;
using Recall.Persistence.Membership;

namespace Recall.Cluster.Membership;

/// <summary>A node of the cluster as this node last read it from the membership store.</summary>
/// <param name="Address">The node's address.</param>
/// <param name="Incarnation">Its run: a node restarted at the same address is another member.</param>
/// <param name="Status">Where it is in its life.</param>
/// <param name="Roles">Its roles.</param>
public sealed record Member(Address Address, long Incarnation, MemberStatus Status, IReadOnlyList<string> Roles)
{
    /// <summary>Whether it has the role <paramref name="role"/>.</summary>
    public bool HasRole(string role) => Roles.Contains(role, StringComparer.Ordinal);

    /// <inheritdoc />
    public override string ToString() => $"{Address} ({Status})";
}

/// <summary>
/// A member changed: it appeared (<see cref="Previous"/> is null: first seen, or the current state
/// a new subscriber starts with), or moved from <see cref="Previous"/> to its <c>Status</c>.
/// </summary>
/// <param name="Member">The member as it is now.</param>
/// <param name="Previous">Its status before, or null.</param>
public sealed record MemberEvent(Member Member, MemberStatus? Previous);

/// <summary>Joining the cluster failed: the membership store could not be reached, or another node is live at this node's address. Nothing was left half-joined.</summary>
public sealed class ClusterJoinException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClusterJoinException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ClusterJoinException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public ClusterJoinException(string message)
        : base(message)
    {
    }
}
