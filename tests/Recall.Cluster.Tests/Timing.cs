namespace Recall.Cluster.Tests;

/// <summary>
/// The cluster tests run one class at a time: their nodes detect failure by time (heartbeats, leases,
/// DownAfter of a few seconds), and classes that load the machine at once could make a healthy node
/// miss its deadline and rightly stop itself.
/// </summary>
internal static class Timing
{
    public const string Collection = "cluster timing";
}
