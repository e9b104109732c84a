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
public sealed record BenchPair(string Workload, string Store, long N)
{
    /// <summary>The workload's selection name when it prints several lines (<c>remote-pingpong:p16</c>); else <see cref="Workload"/>.</summary>
    public string Key { get; init; } = Workload;
}

/// <summary>A workload's figures on one store: the median of the measured runs, each run, and the medians of its extra figures.</summary>
public sealed record BenchResult(BenchPair Pair, double Seconds, double PerSecond, IReadOnlyList<double> Runs, IReadOnlyDictionary<string, double> Extra)
{
    /// <summary>
    /// Lines in the remote-bench anchors' format: each per-run figure of <see cref="Extra"/> with
    /// its value in every measured run (printed as <c>&lt;name&gt;_runs</c>); null for the plain line.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>>? ExtraRuns { get; init; }

    /// <summary>Further fields of <c>extra</c> (text, numbers, lists of numbers, nested objects), printed after the figures; null for none.</summary>
    public IReadOnlyDictionary<string, object>? Fields { get; init; }

    /// <summary>Whether the line also says <c>"count"</c> (= n), as the remote-bench anchors name it.</summary>
    public bool PrintCount { get; init; }

    /// <summary>The result line of the workloads (README.md beside this project): <c>{"workload":..,"store":..,"n":..,"seconds":..,"per_sec":..,"runs":[..],"extra":{..}}</c>.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("workload", Pair.Workload);
            json.WriteString("store", Pair.Store);
            json.WriteNumber("n", Pair.N);
            if (PrintCount)
            {
                json.WriteNumber("count", Pair.N);
            }

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
                if (ExtraRuns is not null && ExtraRuns.TryGetValue(key, out var runs))
                {
                    json.WriteStartArray(key + "_runs");
                    foreach (var run in runs)
                    {
                        json.WriteNumberValue(Math.Round(run, 4));
                    }

                    json.WriteEndArray();
                }
            }

            foreach (var (key, value) in Fields ?? new Dictionary<string, object>())
            {
                json.WritePropertyName(key);
                WriteValue(json, value);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string text:
                json.WriteStringValue(text);
                break;
            case bool flag:
                json.WriteBooleanValue(flag);
                break;
            case int or long:
                json.WriteNumberValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case double number:
                json.WriteNumberValue(Math.Round(number, 4));
                break;
            case IReadOnlyDictionary<string, object> nested:
                json.WriteStartObject();
                foreach (var (key, item) in nested)
                {
                    json.WritePropertyName(key);
                    WriteValue(json, item);
                }

                json.WriteEndObject();
                break;
            case System.Collections.IEnumerable items:
                json.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(json, item);
                }

                json.WriteEndArray();
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
        }
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
            if (pair.Key != pair.Workload)
            {
                json.WriteString("key", pair.Key);
            }

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
        Log($"FAILED {pair.Key}/{pair.Store}: {(exception is BenchCheckException ? exception.Message : exception.ToString())}");
        results.WriteLine(BenchResult.ErrorJson(pair, exception));
        results.Flush();
    }

    /// <inheritdoc />
    public void Skipped(BenchPair pair, string reason)
    {
        ArgumentNullException.ThrowIfNull(pair);
        Log($"{pair.Key} on {pair.Store} skipped: {reason}");
    }
}
