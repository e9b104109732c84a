using System.Diagnostics;
using System.Globalization;
using Recall.Projections.Probe;

namespace Recall.Projections.Tests;

/// <summary>A process killed with SIGKILL in the middle of a batch: the next run applies every event exactly once.</summary>
public sealed class CrashTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(60)]
    [InlineData(143)]
    public async Task A_projection_killed_in_the_middle_of_a_batch_loses_nothing_and_applies_nothing_twice(int stuckAt)
    {
        const int count = 400;
        var path = _folder.File();
        var lines = await RunAndKillAsync(path, count, stuckAt);

        // The probe hung inside the transaction of the batch holding event stuckAt, after inserting
        // rows of that batch; none of them may be in the file, and the offset names the last whole batch.
        var batch = lines.Last(l => l.StartsWith("batch ", StringComparison.Ordinal)).Split(' ');
        var first = long.Parse(batch[1], CultureInfo.InvariantCulture);
        Assert.InRange(stuckAt, first, long.Parse(batch[2], CultureInfo.InvariantCulture));
        Assert.Contains($"applied {stuckAt}", lines);
        var committed = Sql.Scalar(path, "SELECT count(*) FROM model");
        Assert.Equal(first - 1, committed);
        Assert.Equal(committed, Sql.Scalar(path, "SELECT offset_ordering FROM recall_projection_offsets WHERE projection_name = 'crash'"));
        Assert.Equal(committed * (committed + 1) / 2, Sql.Scalar(path, "SELECT coalesce(sum(value), 0) FROM model"));

        await using (var system = ActorSystem.Create("next", o => o.UseProjections()))
        {
            var handle = system.Projections().Start(CrashProjection.Create(path, count));
            await Wait.ForAsync(handle.WaitForCatchUpAsync(), "the next run");
        }

        Assert.Equal(count, Sql.Scalar(path, "SELECT count(*) FROM model"));
        Assert.Equal(count, Sql.Scalar(path, "SELECT count(DISTINCT value) FROM model"));
        Assert.Equal((long)count * (count + 1) / 2, Sql.Scalar(path, "SELECT sum(value) FROM model"));
        Assert.Equal(count, Sql.Scalar(path, "SELECT offset_ordering FROM recall_projection_offsets WHERE projection_name = 'crash'"));
    }

    /// <summary>Runs the probe until it hangs at event <paramref name="stuckAt"/>, kills it with SIGKILL and returns its lines.</summary>
    private static async Task<List<string>> RunAndKillAsync(string path, int count, int stuckAt)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Recall.Projections.Probe.dll"));
        start.ArgumentList.Add(path);
        start.ArgumentList.Add(count.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add(stuckAt.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(start)!;
        var lines = new List<string>();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                    if (!reached.Task.IsCompleted && line == $"stuck {stuckAt}")
                    {
                        process.Kill(entireProcessTree: true); // SIGKILL: no shutdown code runs, the transaction stays open
                        reached.TrySetResult();
                    }
                }
            }

            reached.TrySetResult();
        });
        var errors = process.StandardError.ReadToEndAsync();
        var met = await Task.WhenAny(reached.Task, Task.Delay(Wait.Timeout * 4)) == reached.Task;
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        await reading;
        var stderr = await errors;
        lock (lines)
        {
            Assert.True(met && lines.Count > 0, "the probe did not reach its kill point: " + stderr);
            return [.. lines];
        }
    }
}
