using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Recall.Benchmarks;

/// <summary>
/// Runs each selected workload × store: one preparation, the warm-ups, then the measured runs,
/// each with a fresh run context (fresh ActorSystem) and a full GC before it; prints one JSON line.
/// </summary>
internal sealed class Runner(BenchOptions options)
{
    private static readonly TimeSpan TerminateTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan CollectTimeout = TimeSpan.FromSeconds(30);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private List<WeakReference> _previousSystems = [];

    /// <summary>Runs everything selected; returns the process exit code (0 only if every check passed).</summary>
    public async Task<int> RunAsync(IReadOnlyList<IWorkload> workloads)
    {
        var failures = 0;
        var ran = 0;
        foreach (var workload in workloads)
        {
            if (options.Workloads.Count > 0 && !options.Workloads.Contains(workload.Name))
            {
                continue;
            }

            foreach (var store in workload.Stores)
            {
                if (options.Stores.Count > 0 && !options.Stores.Contains(store))
                {
                    continue;
                }

                if (store == "postgres" && options.Postgres is null)
                {
                    Log($"{workload.Name} on postgres skipped: give --postgres CONNSTR or RECALL_BENCH_POSTGRES");
                    continue;
                }

                ran++;
                try
                {
                    var line = await RunOneAsync(workload, store);
                    Console.Out.WriteLine(line);
                    Console.Out.Flush();
                }
                catch (Exception exception)
                {
                    failures++;
                    Log($"FAILED {workload.Name}/{store}: {(exception is BenchCheckException ? exception.Message : exception.ToString())}");
                    Console.Out.WriteLine(ErrorLine(workload.Name, store, exception));
                    Console.Out.Flush();
                }
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

    private async Task<string> RunOneAsync(IWorkload workload, string store)
    {
        var label = $"{workload.Name}/{store}";
        await CleanAsync();
        Log($"{label}: starting; thread pool threads={ThreadPool.ThreadCount}, load average={LoadAverage()}");
        var preparation = new RunContext(options, store, run: int.MinValue);
        try
        {
            await workload.PrepareAsync(preparation);
        }
        finally
        {
            _previousSystems = await preparation.TerminateAllAsync(TerminateTimeout);
        }

        for (var w = 0; w < options.Warmups; w++)
        {
            var result = await RunOnceAsync(workload, new RunContext(options, store, run: -1 - w));
            Log($"{label} warm-up: {result.Elapsed.TotalSeconds:F4} s ({Rate(workload.N, result.Elapsed)}/s)");
        }

        var results = new List<RunResult>();
        for (var i = 0; i < options.Runs; i++)
        {
            var result = await RunOnceAsync(workload, new RunContext(options, store, run: i));
            Log($"{label} run {i + 1}: {result.Elapsed.TotalSeconds:F4} s ({Rate(workload.N, result.Elapsed)}/s){FormatExtra(result.Extra)}");
            results.Add(result);
        }

        await CleanAsync();
        return ResultLine(workload, store, results);
    }

    private async Task<RunResult> RunOnceAsync(IWorkload workload, RunContext context)
    {
        await CleanAsync();
        try
        {
            return await workload.RunAsync(context);
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

    private static string ResultLine(IWorkload workload, string store, List<RunResult> results)
    {
        var seconds = results.Select(r => r.Elapsed.TotalSeconds).ToArray();
        var median = Median(seconds);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("workload", workload.Name);
            json.WriteString("store", store);
            json.WriteNumber("n", workload.N);
            json.WriteNumber("seconds", Math.Round(median, 6));
            json.WriteNumber("per_sec", Math.Round(workload.N / median, 1));
            json.WriteStartArray("runs");
            foreach (var s in seconds)
            {
                json.WriteNumberValue(Math.Round(s, 6));
            }

            json.WriteEndArray();
            json.WriteStartObject("extra");
            foreach (var key in results[0].Extra?.Keys ?? Enumerable.Empty<string>())
            {
                json.WriteNumber(key, Math.Round(Median([.. results.Select(r => r.Extra![key])]), 4));
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string ErrorLine(string workload, string store, Exception exception)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("workload", workload);
            json.WriteString("store", store);
            json.WriteString("error", exception is BenchCheckException ? exception.Message : exception.GetType().Name + ": " + exception.Message);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
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

    public void Log(string message) => Console.Error.WriteLine($"[{_clock.Elapsed.TotalSeconds,7:F1}s] {message}");
}
