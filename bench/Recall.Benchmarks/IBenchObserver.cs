using System.Text.Json;

namespace Recall.Benchmarks;

/// <summary>
/// What <see cref="Runner"/> reports while it works. The harness program prints it as JSON lines
/// (<see cref="JsonLinesObserver"/>); <c>recall bench</c> draws progress bars and a table.
/// Calls come one at a time, in order, from the runner's flow.
/// </summary>
public interface IBenchObserver
{
    /// <summary>A line for the log: settings, each run's time, notices.</summary>
    void Log(string message);

    /// <summary>A workload × store pair starts; it takes <paramref name="steps"/> steps (the preparation, the warm-ups, the measured runs).</summary>
    void Started(BenchPair pair, int steps);

    /// <summary>One step of the pair finished: "prepared", "warm-up 1", "run 2".</summary>
    void Stepped(BenchPair pair, string step);

    /// <summary>The pair finished and its checks passed.</summary>
    void Completed(BenchResult result);

    /// <summary>The pair failed: a check (<see cref="BenchCheckException"/>) or anything else; its figures must not be shown.</summary>
    void Failed(BenchPair pair, Exception exception);

    /// <summary>The pair was selected but cannot run here (the postgres store without a connection string).</summary>
    void Skipped(BenchPair pair, string reason);
}

/// <summary>One workload on one store, and what <c>per_sec</c> counts (<paramref name="N"/>).</summary>
public sealed record BenchPair(string Workload, string Store, long N);

/// <summary>A workload's figures on one store: the median of the measured runs, each run, and the medians of its extra figures.</summary>
public sealed record BenchResult(BenchPair Pair, double Seconds, double PerSecond, IReadOnlyList<double> Runs, IReadOnlyDictionary<string, double> Extra)
{
    /// <summary>The result line of WORKLOADS.md: <c>{"workload":..,"store":..,"n":..,"seconds":..,"per_sec":..,"runs":[..],"extra":{..}}</c>.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("workload", Pair.Workload);
            json.WriteString("store", Pair.Store);
            json.WriteNumber("n", Pair.N);
            json.WriteNumber("seconds", Math.Round(Seconds, 6));
            json.WriteNumber("per_sec", Math.Round(PerSecond, 1));
            json.WriteStartArray("runs");
            foreach (var s in Runs)
            {
                json.WriteNumberValue(Math.Round(s, 6));
            }

            json.WriteEndArray();
            json.WriteStartObject("extra");
            foreach (var (key, value) in Extra)
            {
                json.WriteNumber(key, Math.Round(value, 4));
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The line printed instead of the figures when a pair failed: <c>{"workload":..,"store":..,"error":..}</c>.</summary>
    public static string ErrorJson(BenchPair pair, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(exception);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("workload", pair.Workload);
            json.WriteString("store", pair.Store);
            json.WriteString("error", exception is BenchCheckException ? exception.Message : exception.GetType().Name + ": " + exception.Message);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>The harness program's output: result lines (JSON) on one writer, the log with elapsed seconds on the other.</summary>
public sealed class JsonLinesObserver(TextWriter results, TextWriter log) : IBenchObserver
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    /// <inheritdoc />
    public void Log(string message) => log.WriteLine($"[{_clock.Elapsed.TotalSeconds,7:F1}s] {message}");

    /// <inheritdoc />
    public void Started(BenchPair pair, int steps)
    {
    }

    /// <inheritdoc />
    public void Stepped(BenchPair pair, string step)
    {
    }

    /// <inheritdoc />
    public void Completed(BenchResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        results.WriteLine(result.ToJson());
        results.Flush();
    }

    /// <inheritdoc />
    public void Failed(BenchPair pair, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(pair);
        ArgumentNullException.ThrowIfNull(exception);
        Log($"FAILED {pair.Workload}/{pair.Store}: {(exception is BenchCheckException ? exception.Message : exception.ToString())}");
        results.WriteLine(BenchResult.ErrorJson(pair, exception));
        results.Flush();
    }

    /// <inheritdoc />
    public void Skipped(BenchPair pair, string reason)
    {
        ArgumentNullException.ThrowIfNull(pair);
        Log($"{pair.Workload} on {pair.Store} skipped: {reason}");
    }
}
