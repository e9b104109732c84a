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
    private string? _text;

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

    /// <summary>
    /// Reads a path as <see cref="ToString"/> writes it: <c>recall://shop/user/x</c> for a local
    /// system, <c>recall://shop@10.0.0.5:7400/user/x</c> for one reachable from other processes.
    /// </summary>
    /// <exception cref="FormatException">The text is not a Recall actor path; the message says which part is wrong.</exception>
    public static ActorPath Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return TryParse(path, out var parsed, out var error) ? parsed : throw new FormatException($"'{path}' is not an actor path: {error}.");
    }

    /// <summary>Reads a path as <see cref="Parse"/> does, without throwing.</summary>
    public static bool TryParse(string? path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ActorPath? parsed) =>
        TryParse(path, out parsed, out _);

    private static bool TryParse(string? path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ActorPath? parsed, out string error)
    {
        parsed = null;
        const string prefix = Address.Protocol + "://";
        if (path is null || !path.StartsWith(prefix, StringComparison.Ordinal))
        {
            error = $"it must start with '{prefix}'";
            return false;
        }

        var rest = path.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var elements = slash < 0 ? [] : rest[(slash + 1)..];
        var at = authority.IndexOf('@');
        var system = at < 0 ? authority : authority[..at];
        if (system.IsEmpty)
        {
            error = "the system name is missing";
            return false;
        }

        Address address;
        if (at < 0)
        {
            address = new Address(system.ToString());
        }
        else
        {
            var hostPort = authority[(at + 1)..];
            var colon = hostPort.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                error = "the address must be system@host:port with a port from 1 to 65535";
                return false;
            }

            address = new Address(system.ToString(), hostPort[..colon].ToString(), port);
        }

        var result = Root(address);
        foreach (var range in elements.Split('/'))
        {
            var element = elements[range];
            if (element.IsEmpty)
            {
                if (range.End.GetOffset(elements.Length) == elements.Length)
                {
                    continue; // a trailing slash
                }

                error = "it has an empty element";
                return false;
            }

            result = result.Child(element.ToString());
        }

        parsed = result;
        error = "";
        return true;
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
    public override string ToString() => _text ??= Address + ToStringWithoutAddress();

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
