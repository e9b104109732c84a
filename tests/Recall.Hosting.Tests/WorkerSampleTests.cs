using System.Diagnostics;
using System.Text.RegularExpressions;
using Recall.TestKit;

namespace Recall.Hosting.Tests;

/// <summary>Runs samples/Worker as a program, as the README says to.</summary>
public sealed partial class WorkerSampleTests
{
    [Fact]
    public async Task The_worker_sample_runs_for_the_given_time_and_its_next_run_recovers_the_jobs()
    {
        var database = Path.Combine(Path.GetTempPath(), $"recall-worker-{Guid.NewGuid():N}.db");
        try
        {
            var first = await RunAsync("--run-for", "1s", "--Worker:Interval", "00:00:00.050", "--Recall:Sqlite:Path", database);
            var second = await RunAsync("--run-for", "1s", "--Worker:Interval", "00:00:00.050", "--Recall:Sqlite:Path", database);

            var (firstRun, firstTotal) = Summary(first);
            var (secondRun, secondTotal) = Summary(second);
            Assert.True(firstRun > 0, first);
            Assert.Equal(firstRun, firstTotal);
            Assert.Contains($"Ledger recovered: {firstTotal} jobs were done before this run", second);
            Assert.Equal(firstTotal + secondRun, secondTotal);
        }
        finally
        {
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    private static (int InRun, int Total) Summary(string output)
    {
        var match = SummaryLine().Match(output);
        Assert.True(match.Success, $"no summary line in:\n{output}");
        return (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
    }

    /// <summary>Runs the sample's build of the same configuration as this test, and returns its output once it exited with 0.</summary>
    private static async Task<string> RunAsync(params string[] arguments)
    {
        var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)); // tests/X/bin/<Configuration>/<tfm>
        var configuration = testOutput.Parent!.Name;
        var root = testOutput;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Recall.slnx")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var program = Path.Combine(root.FullName, "samples", "Worker", "bin", configuration, testOutput.Name, "Worker.dll");
        Assert.True(File.Exists(program), $"{program} is missing: build samples/Worker");

        var dotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(program);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TestKitSettings.Dilated(TimeSpan.FromSeconds(60)));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var text = await output + await errors;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}:\n{text}");
        return text;
    }

    [GeneratedRegex(@"jobs done: (\d+) in this run, (\d+) in total")]
    private static partial Regex SummaryLine();
}
