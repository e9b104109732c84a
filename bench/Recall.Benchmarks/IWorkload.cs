namespace Recall.Benchmarks;

/// <summary>
/// One benchmark workload of README.md (beside this project). The runner calls <see cref="PrepareAsync"/> once per
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

    /// <summary>
    /// The name <c>--workload</c> and <c>--list</c> use for this one line when a workload prints
    /// several (<c>remote-pingpong:p1</c>, <c>remote-pingpong:p16</c>); <c>--workload</c> with
    /// <see cref="Name"/> selects all of them. Default <see cref="Name"/>.
    /// </summary>
    string Key => Name;

    /// <summary>Runs only when named with <c>--workload</c>, not in the default run of everything.</summary>
    bool OptIn => false;

    /// <summary>
    /// Figures of <c>extra</c> that are the same in every run and tell the lines of one workload
    /// apart (remote-pingpong's <c>pairs</c>); printed first in <c>extra</c>. Default none.
    /// </summary>
    IReadOnlyDictionary<string, double>? Fixed => null;

    /// <summary>Untimed set-up shared by all runs on one store (for example writing the events a recover workload reads).</summary>
    Task PrepareAsync(RunContext context) => Task.CompletedTask;

    /// <summary>
    /// One run: sets up (untimed), times the workload, then checks its result and throws
    /// <see cref="BenchCheckException"/> if anything is off.
    /// </summary>
    Task<RunResult> RunAsync(RunContext context);

    /// <summary>
    /// For a line in the format of the remote-bench anchors: the fields of <c>extra</c> read back
    /// after the measured runs (<c>rate_unit</c>, <c>settings</c>). When it returns a dictionary,
    /// the line also carries <c>count</c> (= n), <c>warmup_runs</c>, <c>runs_per_sec</c>, every
    /// per-run figure of <c>extra</c> again as <c>&lt;name&gt;_runs</c>, and <c>loadavg_at_end</c>.
    /// Default null: the harness's plain line.
    /// </summary>
    IReadOnlyDictionary<string, object>? LineFields() => null;

    /// <summary>Called once after the last run on a store, also when a run failed: stops what <see cref="PrepareAsync"/> started.</summary>
    Task CleanUpAsync(string store) => Task.CompletedTask;
}

/// <summary>The timed part of one run, plus workload figures reported under <c>extra</c> (median over the runs).</summary>
internal sealed record RunResult(TimeSpan Elapsed, IReadOnlyDictionary<string, double>? Extra = null);

/// <summary>A workload's own check failed: its figures must not be printed.</summary>
public sealed class BenchCheckException(string message) : Exception(message);
