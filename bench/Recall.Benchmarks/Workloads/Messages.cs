namespace Recall.Benchmarks.Workloads;

/// <summary>The preallocated message of the tell workloads.</summary>
internal sealed class Ball
{
    public static readonly Ball Instance = new();
}

/// <summary>Starts a driver actor.</summary>
internal sealed class Start
{
    public static readonly Start Instance = new();
}

/// <summary>A count written by one actor and read by the harness after the actor's system has terminated.</summary>
internal sealed class Tally
{
    public long Value;
}
