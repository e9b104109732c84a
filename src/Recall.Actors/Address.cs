namespace Recall.Actors;

/// <summary>
/// Where an actor system lives: the system name, and a host and port once the system is reachable
/// from other processes. Local systems have no host; their address prints as <c>recall://name</c>.
/// </summary>
/// <param name="System">The actor system's name.</param>
/// <param name="Host">The host name other nodes use, or null for a local-only system.</param>
/// <param name="Port">The port other nodes use, or null for a local-only system.</param>
public sealed record Address(string System, string? Host = null, int? Port = null)
{
    /// <summary>The protocol part of every Recall address.</summary>
    public const string Protocol = "recall";

    /// <summary>Whether this address names a system in this process only.</summary>
    public bool IsLocal => Host is null;

    /// <inheritdoc />
    public override string ToString() =>
        Host is null ? $"{Protocol}://{System}" : $"{Protocol}://{System}@{Host}:{Port}";
}
