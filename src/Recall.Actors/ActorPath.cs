using System.Diagnostics;
using System.Text;

namespace Recall.Actors;

/// <summary>
/// The unique, hierarchical name of an actor: an <see cref="Actors.Address"/> followed by the
/// names from the root down, for example <c>recall://shop/user/wallets/wallet-alice</c>.
/// </summary>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class ActorPath : IEquatable<ActorPath>
{
    private ActorPath(Address address, ActorPath? parent, string name)
    {
        Address = address;
        Parent = parent;
        Name = name;
    }

    /// <summary>The address of the system the actor lives in.</summary>
    public Address Address { get; }

    /// <summary>The parent's path, or null for the root.</summary>
    public ActorPath? Parent { get; }

    /// <summary>The last element: the actor's name among its siblings.</summary>
    public string Name { get; }

    /// <summary>The number of elements below the root.</summary>
    public int Depth => Parent is null ? 0 : Parent.Depth + 1;

    /// <summary>The root path of a system.</summary>
    public static ActorPath Root(Address address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new ActorPath(address, null, "");
    }

    /// <summary>The path of a child with the given name.</summary>
    public ActorPath Child(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new ActorPath(Address, this, name);
    }

    /// <summary>The names from the root (excluded) down to this actor.</summary>
    public IReadOnlyList<string> Elements
    {
        get
        {
            var elements = new string[Depth];
            var path = this;
            for (var i = elements.Length - 1; i >= 0; i--, path = path.Parent!)
            {
                elements[i] = path.Name;
            }

            return elements;
        }
    }

    /// <summary>The path without its address, for example <c>/user/wallet-alice</c>.</summary>
    public string ToStringWithoutAddress()
    {
        if (Parent is null)
        {
            return "/";
        }

        var builder = new StringBuilder();
        foreach (var element in Elements)
        {
            builder.Append('/').Append(element);
        }

        return builder.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Address + ToStringWithoutAddress();

    /// <inheritdoc />
    public bool Equals(ActorPath? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || !Address.Equals(other.Address))
        {
            return false;
        }

        var left = this;
        var right = other;
        while (left is not null && right is not null)
        {
            if (ReferenceEquals(left, right))
            {
                return true;
            }

            if (!string.Equals(left.Name, right.Name, StringComparison.Ordinal))
            {
                return false;
            }

            left = left.Parent;
            right = right.Parent;
        }

        return left is null && right is null;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is ActorPath other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        for (var path = this; path is not null; path = path.Parent)
        {
            hash.Add(path.Name, StringComparer.Ordinal);
        }

        hash.Add(Address);
        return hash.ToHashCode();
    }
}
