using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Recall.Benchmarks.Workloads;

namespace Recall.Benchmarks;

/// <summary>
/// Runs each selected workload × store: one preparation, the warm-ups, then the measured runs,
/// each with a fresh run context (fresh ActorSystem) and a full GC before it; reports every step
/// and result to an <see cref="IBenchObserver"/>. The harness program and <c>recall bench</c> both
/// call it.
/// </summary>
public sealed class Runner
{
    private static readonly TimeSpan TerminateTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan CollectTimeout = TimeSpan.FromSeconds(30);
    private readonly BenchOptions _options;
    private readonly IBenchObserver _observer;
    private readonly IReadOnlyList<IWorkload> _workloads;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private List<WeakReference> _previousSystems = [];
    private CancellationToken _cancellation;

    /// <summary>A runner of the workloads <paramref name="options"/> selects, reporting to <paramref name="observer"/>.</summary>
    public Runner(BenchOptions options, IBenchObserver observer)
        : this(options, observer, WorkloadRegistry.All(options))
    {
    }

    /// <summary>A runner of the given workloads (tests).</summary>
    internal Runner(BenchOptions options, IBenchObserver observer, IReadOnlyList<IWorkload> workloads)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(observer);
        _options = options;
        _observer = observer;
        _workloads = workloads;
    }

    /// <summary>
    /// Every workload the harness knows, in the order they run, with the stores each runs on (not
    /// only the selected ones). The name is the one <c>--workload</c> takes for that line
    /// (<c>remote-pingpong:p16</c>); opt-in workloads, which only run when named, end in " (opt-in)".
    /// </summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Stores, long N)> Workloads =>
        [.. _workloads.Select(w => (w.OptIn ? w.Key + " (opt-in)" : w.Key, w.Stores, w.N))];

    /// <summary>The names given with <c>--workload</c> that no workload has.</summary>
    public IReadOnlyList<string> UnknownWorkloads =>
        [.. _options.Workloads.Where(name => !_workloads.Any(w => Named(w, name)))];

    /// <summary>The workload × store pairs the options select, in the order they run (postgres pairs included even without a connection string: they are reported as skipped).</summary>
    public IReadOnlyList<BenchPair> Selected =>
        [.. Select().Select(p => PairOf(p.Workload, p.Store))];

    /// <summary>The machine and runtime settings that the figures depend on, for the log.</summary>
    public string DescribeEnvironment()
    {
        ThreadPool.GetMinThreads(out var minWorkers, out _);
        return $"gc: server={GCSettings.IsServerGC} latency={GCSettings.LatencyMode}; cores={Environment.ProcessorCount}; " +
            $"threadpool min workers={minWorkers}; runtime={Environment.Version}; load average={LoadAverage()}; " +
            $"runs={_options.Runs} warm-ups={_options.Warmups}{(_options.ScaleDown > 1 ? $" SCALED DOWN /{_options.ScaleDown}" : "")}";
    }

    /// <summary>Runs everything selected; returns the process exit code (0 only if every check passed, 2 when nothing was selected).</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled: the run in progress is abandoned at once (its systems terminated, its clean-up run).</exception>
    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        _cancellation = cancellationToken;
        var failures = 0;
        var ran = 0;
        foreach (var (workload, store) in Select())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pair = PairOf(workload, store);
            if (store == "postgres" && _options.Postgres is null)
            {
                _observer.Skipped(pair, "give --postgres CONNSTR or RECALL_BENCH_POSTGRES");
                continue;
            }

            ran++;
            try
            {
                _observer.Completed(await RunOneAsync(workload, pair));
            }
            catch (Exception exception)
            {
                cancellationToken.ThrowIfCancellationRequested(); // not a failure of the workload: the user stopped it
                failures++;
                _observer.Failed(pair, exception);
            }
        }

        if (ran == 0)
        {
            Log("nothing selected: check --workload and --store (see --list)");
            return 2;
        }

        Log($"total {_clock.Elapsed.TotalSeconds:F1} s, {ran} workload/store pairs, {failures} failed");
        return failures == 0 ? 0 : 1;
    }

    private IEnumerable<(IWorkload Workload, string Store)> Select()
    {
        foreach (var workload in _workloads)
        {
            if (_options.Workloads.Count == 0 ? workload.OptIn : !_options.Workloads.Any(name => Named(workload, name)))
            {
                continue;
            }

            foreach (var store in workload.Stores)
            {
                if (_options.Stores.Count == 0 || _options.Stores.Contains(store))
                {
                    yield return (workload, store);
                }
            }
        }
    }

    private static bool Named(IWorkload workload, string name) =>
        string.Equals(workload.Name, name, StringComparison.OrdinalIgnoreCase) || string.Equals(workload.Key, name, StringComparison.OrdinalIgnoreCase);

    private static BenchPair PairOf(IWorkload workload, string store) => new(workload.Name, store, workload.N) { Key = workload.Key };

    private async Task<BenchResult> RunOneAsync(IWorkload workload, BenchPair pair)
    {
        var store = pair.Store;
        var label = $"{workload.Key}/{store}";
        _observer.Started(pair, 1 + _options.Warmups + _options.Runs);
        await CleanAsync();
        Log($"{label}: starting; thread pool threads={ThreadPool.ThreadCount}, load average={LoadAverage()}");
        try
        {
            var preparation = new RunContext(_options, store, run: int.MinValue, Log);
            try
            {
                await workload.PrepareAsync(preparation).WaitAsync(_cancellation);
            }
            finally
            {
                _previousSystems = await preparation.TerminateAllAsync(TerminateTimeout);
            }

            _observer.Stepped(pair, "prepared");
            for (var w = 0; w < _options.Warmups; w++)
            {
                var result = await RunOnceAsync(workload, new RunContext(_options, store, run: -1 - w, Log));
                Log($"{label} warm-up: {result.Elapsed.TotalSeconds:F4} s ({Rate(workload.N, result.Elapsed)}/s)");
                _observer.Stepped(pair, $"warm-up {w + 1}");
            }

            var results = new List<RunResult>();
            for (var i = 0; i < _options.Runs; i++)
            {
                var result = await RunOnceAsync(workload, new RunContext(_options, store, run: i, Log));
                Log($"{label} run {i + 1}: {result.Elapsed.TotalSeconds:F4} s ({Rate(workload.N, result.Elapsed)}/s){FormatExtra(result.Extra)}");
                results.Add(result);
                _observer.Stepped(pair, $"run {i + 1}");
            }

            var fields = workload.LineFields();
            await CleanAsync();
            return Result(pair, results, workload.Fixed, fields);
        }
        finally
        {
            await workload.CleanUpAsync(store);
        }
    }

    private async Task<RunResult> RunOnceAsync(IWorkload workload, RunContext context)
    {
        await CleanAsync();
        try
        {
            // A workload need not watch for cancellation: the wait for it ends at once, and the
            // systems it made are terminated below.
            return await workload.RunAsync(context).WaitAsync(_cancellation);
        }
        finally
        {
            _previousSystems = await context.TerminateAllAsync(TerminateTimeout);
        }
    }

    /// <summary>
    /// Waits until the previous run's actor systems have been collected (so no actor of an earlier
    /// run is still on the heap), then runs a full blocking GC.
    /// </summary>
    private async Task CleanAsync()
    {
        var previous = _previousSystems;
        _previousSystems = [];
        var waited = Stopwatch.StartNew();
        while (true)
        {
            FullGc();
            if (!previous.Exists(w => w.IsAlive))
            {
                break;
            }

            if (waited.Elapsed > CollectTimeout)
            {
                throw new BenchCheckException($"the previous run's ActorSystem was still reachable {CollectTimeout.TotalSeconds:F0} s after it terminated");
            }

            await Task.Delay(10);
        }

        if (waited.ElapsedMilliseconds >= 1000)
        {
            Log($"previous ActorSystem collected after {waited.ElapsedMilliseconds} ms");
        }
    }

    private static void FullGc()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private BenchResult Result(BenchPair pair, List<RunResult> results, IReadOnlyDictionary<string, double>? fixedFigures, IReadOnlyDictionary<string, object>? lineFields)
    {
        var seconds = results.Select(r => r.Elapsed.TotalSeconds).ToArray();
        var median = Median(seconds);
        var extra = new Dictionary<string, double>(fixedFigures ?? new Dictionary<string, double>());
        var extraRuns = new Dictionary<string, IReadOnlyList<double>>();
        foreach (var key in results[0].Extra?.Keys ?? Enumerable.Empty<string>())
        {
            double[] runs = [.. results.Select(r => r.Extra![key])];
            extra[key] = Median(runs);
            extraRuns[key] = runs;
        }

        if (lineFields is null)
        {
            return new BenchResult(pair, median, pair.N / median, seconds, extra);
        }

        // The remote-bench anchors' line: count, per-run figures, warm-ups and the load at the end.
        var fields = new Dictionary<string, object>
        {
            ["warmup_runs"] = _options.Warmups,
            ["runs_per_sec"] = seconds.Select(s => Math.Round(pair.N / s, 1)).ToArray(),
        };
        foreach (var (key, value) in lineFields)
        {
            fields[key] = value;
        }

        fields["loadavg_at_end"] = LoadAverage();
        return new BenchResult(pair, median, pair.N / median, seconds, extra) { ExtraRuns = extraRuns, Fields = fields, PrintCount = true };
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private static string Rate(long n, TimeSpan elapsed) => (n / elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture);

    private static string FormatExtra(IReadOnlyDictionary<string, double>? extra) =>
        extra is null ? "" : " " + string.Join(' ', extra.Select(e => $"{e.Key}={e.Value.ToString("0.####", CultureInfo.InvariantCulture)}"));

    /// <summary>The 1, 5 and 15 minute load averages (Linux), or n/a.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
        catch (UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    private void Log(string message) => _observer.Log(message);
}
