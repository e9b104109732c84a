namespace Recall.Benchmarks;

/// <summary>
/// One benchmark workload of WORKLOADS.md. The runner calls <see cref="PrepareAsync"/> once per
/// store, then <see cref="RunAsync"/> for the warm-up and each measured run, each time with a
/// fresh <see cref="RunContext"/> (so a fresh ActorSystem) and a full GC before it.
/// </summary>
internal interface IWorkload
{
    /// <summary>The name printed in the JSON line and selected with <c>--workload</c>.</summary>
    string Name { get; }

    /// <summary>The stores it runs on: <c>none</c> for plain messaging, else memory, sqlite, postgres.</summary>
    IReadOnlyList<string> Stores { get; }

    /// <summary>What <c>per_sec</c> counts: messages, events or actors.</summary>
    long N { get; }

    /// <summary>Untimed set-up shared by all runs on one store (for example writing the events a recover workload reads).</summary>
    Task PrepareAsync(RunContext context) => Task.CompletedTask;

    /// <summary>
    /// One run: sets up (untimed), times the workload, then checks its result and throws
    /// <see cref="BenchCheckException"/> if anything is off.
    /// </summary>
    Task<RunResult> RunAsync(RunContext context);
}

/// <summary>The timed part of one run, plus workload figures reported under <c>extra</c> (median over the runs).</summary>
internal sealed record RunResult(TimeSpan Elapsed, IReadOnlyDictionary<string, double>? Extra = null);

/// <summary>A workload's own check failed: its figures must not be printed.</summary>
public sealed class BenchCheckException(string message) : Exception(message);
