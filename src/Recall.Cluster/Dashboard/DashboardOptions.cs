namespace Recall.Cluster.Dashboard;

/// <summary>
/// Settings of the cluster dashboard: a web page (and its JSON and server-sent events) that shows
/// members, shards, leases, projections and dead letters, live. Read-only unless a <see cref="Token"/>
/// is set.
/// </summary>
public sealed class DashboardOptions
{
    /// <summary>The interface to listen on. Default <c>127.0.0.1</c> (this machine only); <c>0.0.0.0</c> for every interface.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>The HTTP port; 0 for a free one (see <see cref="DashboardServer.Address"/>). Default 0.</summary>
    public int Port { get; set; }

    /// <summary>
    /// The token actions (leave this node, pause or resume a projection) must carry as
    /// <c>Authorization: Bearer TOKEN</c>. Null (the default): the dashboard is read-only and refuses
    /// every action.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>How often the page's data is read and pushed to open pages. Default 1 s.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new ArgumentException("DashboardOptions.Host must name an interface, e.g. 127.0.0.1.", nameof(Host));
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"DashboardOptions.Port must be 0 to 65535, not {Port}.", nameof(Port));
        }

        if (Token is { Length: < 16 })
        {
            throw new ArgumentException("DashboardOptions.Token must be at least 16 characters (or null for a read-only dashboard).", nameof(Token));
        }

        if (RefreshInterval < TimeSpan.FromMilliseconds(100) || RefreshInterval > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"DashboardOptions.RefreshInterval must be 100 ms to 1 min, not {RefreshInterval}.", nameof(RefreshInterval));
        }
    }
}
