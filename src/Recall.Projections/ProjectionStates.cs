namespace Recall.Projections;

/// <summary>The text form of <see cref="ProjectionState"/> in the offsets tables.</summary>
internal static class ProjectionStates
{
    public static string ToText(ProjectionState state) => state switch
    {
        ProjectionState.Running => "running",
        ProjectionState.Paused => "paused",
        ProjectionState.Failed => "failed",
        ProjectionState.Stopped => "stopped",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static ProjectionState FromText(string text) => text switch
    {
        "running" => ProjectionState.Running,
        "paused" => ProjectionState.Paused,
        "failed" => ProjectionState.Failed,
        "stopped" => ProjectionState.Stopped,
        _ => throw new FormatException($"'{text}' is not a projection state (running, paused, failed, stopped)."),
    };
}
