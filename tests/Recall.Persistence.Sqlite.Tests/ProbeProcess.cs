using System.Diagnostics;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>Runs Recall.DurabilityProbe in a child process, collects its output lines, and kills it with SIGKILL.</summary>
internal static class ProbeProcess
{
    /// <summary>
    /// Starts the probe with <paramref name="arguments"/>, waits until <paramref name="killWhen"/>
    /// holds for the lines read so far (at most 60 s), kills it and returns every line it printed.
    /// </summary>
    public static async Task<List<string>> RunAndKillAsync(IEnumerable<string> arguments, Func<IReadOnlyList<string>, bool> killWhen)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Recall.DurabilityProbe.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var lines = new List<string>();
        var condition = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                    if (killWhen(lines))
                    {
                        condition.TrySetResult();
                    }
                }
            }

            condition.TrySetResult();
        });
        var errors = process.StandardError.ReadToEndAsync();

        var met = await Task.WhenAny(condition.Task, Task.Delay(TimeSpan.FromSeconds(60))) == condition.Task;
        process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs
        await process.WaitForExitAsync();
        await reading;
        Assert.True(met, "the probe did not reach its kill point within 60 s: " + await errors);
        lock (lines)
        {
            return [.. lines];
        }
    }
}
