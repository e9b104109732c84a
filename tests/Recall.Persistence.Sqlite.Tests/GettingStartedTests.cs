using System.Diagnostics;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>docs/getting-started.md is real: its code is samples/GettingStarted, which runs and recovers.</summary>
public sealed class GettingStartedTests : IDisposable
{
    private readonly TempDatabase _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task The_sample_recovers_its_wallet_when_it_runs_a_second_time()
    {
        Assert.Equal("balance: 10", await RunSampleAsync());
        Assert.True(File.Exists(Path.Combine(_folder.Folder, "bank.db")), "the sample writes bank.db in its working directory");
        Assert.Equal("balance: 20", await RunSampleAsync());
    }

    [Fact]
    public void The_guide_shows_the_sample_code_verbatim()
    {
        var root = RepositoryRoot();
        var guide = File.ReadAllText(Path.Combine(root, "docs", "getting-started.md")).ReplaceLineEndings("\n");
        var code = File.ReadAllText(Path.Combine(root, "samples", "GettingStarted", "Program.cs")).ReplaceLineEndings("\n");

        Assert.Contains("```csharp\n" + code + "```", guide, StringComparison.Ordinal);
        Assert.True(code.Split('\n').Count(line => line.Trim().Length > 0) < 30, "the guide promises under 30 lines of code");
    }

    private async Task<string> RunSampleAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _folder.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "GettingStarted.dll"));
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {await error}");
        return (await output).Trim();
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Recall.slnx")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("Recall.slnx not found above the test binaries.");
    }
}
