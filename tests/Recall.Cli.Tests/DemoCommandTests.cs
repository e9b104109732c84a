namespace Recall.Cli.Tests;

/// <summary><c>recall demo</c> and <c>recall demo-kernel</c> run and check themselves; their exit code says whether the check passed.</summary>
public sealed class DemoCommandTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task Demo_recovers_every_wallet_from_the_sqlite_file_it_names()
    {
        var result = await Cli.RunAsync("demo", "--db", _journal.Path);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("every wallet recovered exactly what was acknowledged", result.Output, StringComparison.Ordinal);
        Assert.Contains(_journal.Path, result.Output, StringComparison.Ordinal);
        Assert.Contains($"next: recall demo --kill --db {_journal.Path}", result.Output, StringComparison.Ordinal);

        // the file it wrote is a journal the inspection commands read
        var ids = await Cli.RunAsync("journal", "ids", _journal.Path);
        Assert.Contains("wallet-alice", ids.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_kill_runs_the_hidden_child_mode_in_another_process_and_recovers_what_it_acknowledged()
    {
        var result = await Cli.RunAsync("demo", "--kill", "--db", _journal.Path);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("killed it with SIGKILL after", result.Output, StringComparison.Ordinal);
        Assert.Contains("durable does not mean acknowledged", result.Output, StringComparison.Ordinal);
        Assert.Contains("next: recall demo cluster", result.Output, StringComparison.Ordinal);
        Assert.Contains("every wallet recovered exactly what was acknowledged", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_postgres_without_a_connection_string_or_RECALL_POSTGRES_is_a_usage_error()
    {
        if (Environment.GetEnvironmentVariable("RECALL_POSTGRES") is { Length: > 0 })
        {
            return; // with the variable set, the demo would run against that server
        }

        var result = await Cli.RunAsync("demo", "--postgres");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("RECALL_POSTGRES", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_kernel_heals_and_says_so()
    {
        var result = await Cli.RunAsync("demo-kernel");

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Contains("healed:   yes", result.Output, StringComparison.Ordinal);
    }
}
