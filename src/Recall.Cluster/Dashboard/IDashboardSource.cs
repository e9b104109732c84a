namespace Recall.Cluster.Dashboard;

/// <summary>An action the dashboard asks for: <c>leave</c> (the serving node leaves the cluster), <c>pause</c> or <c>resume</c> (the projection <see cref="Name"/>, <see cref="Key"/>).</summary>
/// <param name="Kind">leave, pause or resume.</param>
/// <param name="Name">The projection's name, for pause and resume.</param>
/// <param name="Key">The projection's source key, for pause and resume.</param>
public sealed record DashboardAction(string Kind, string? Name = null, string? Key = null);

/// <summary>Where a <see cref="DashboardServer"/> reads what it shows, and what it can do.</summary>
public interface IDashboardSource
{
    /// <summary>What serves the page: a node's address, or the database read.</summary>
    string Name { get; }

    /// <summary>Whether this source can run actions at all (a node can; a database reader cannot).</summary>
    bool CanAct { get; }

    /// <summary>Reads the state now. A part that cannot be read is named in <see cref="DashboardState.Problems"/>, not thrown.</summary>
    Task<DashboardState> ReadAsync(CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="action"/> (already authorized); returns what to tell the user.</summary>
    /// <exception cref="ArgumentException">The action is unknown or names no running projection; the message says which.</exception>
    Task<string> ActAsync(DashboardAction action, CancellationToken cancellationToken);
}
