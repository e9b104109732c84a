namespace Recall.Cli.Tests;

/// <summary><c>recall bench</c> runs the harness of bench/Recall.Benchmarks in-process and ends with a table of results.</summary>
public sealed class BenchCommandTests
{
    [Fact]
    public async Task Bench_runs_the_selected_workloads_and_prints_a_table_of_results()
    {
        var result = await Cli.RunAsync("bench", "--workload", "tell-pingpong,persist-seq", "--store", "none,sqlite", "--runs", "1", "--warmups", "0", "--scale-down", "1000");

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Matches(@"tell-pingpong\s*│\s*none\s*│\s*1,000\s*│\s*\d+\.\d{4}\s*│\s*[\d,]+\s*│", result.Output);
        Assert.Matches(@"persist-seq\s*│\s*sqlite\s*│\s*100\s*│", result.Output);
        Assert.DoesNotContain("FAILED", result.Output, StringComparison.Ordinal);

        // Not a terminal: no progress lines, the table first and the environment under it.
        Assert.StartsWith("┌", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("prepared", result.Output, StringComparison.Ordinal);
        Assert.Contains("load average=", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_prints_one_result_line_per_workload_and_store_and_nothing_else()
    {
        var result = await Cli.RunAsync("bench", "--workload", "tell-pingpong", "--store", "none", "--runs", "1", "--warmups", "0", "--scale-down", "1000", "--json");

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        var line = Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("tell-pingpong", json.RootElement.GetProperty("workload").GetString());
        Assert.Equal(1_000, json.RootElement.GetProperty("n").GetInt64());
        Assert.True(json.RootElement.GetProperty("per_sec").GetDouble() > 0);
    }

    [Fact]
    public async Task A_store_is_named_postgres_or_postgresql_and_a_wrong_name_lists_the_valid_ones()
    {
        var wrong = await Cli.RunAsync("bench", "--workload", "persist-seq", "--store", "sqlite,mysql", "--runs", "1", "--warmups", "0", "--scale-down", "1000");
        Assert.Equal(RecallApp.UsageError, wrong.ExitCode);
        Assert.Equal(["recall: --store 'mysql' is not a store: none, memory, sqlite or postgres (postgresql also works). (see --help)"], wrong.ErrorLines);

        Assert.Equal(["postgres", "sqlite"], Recall.Benchmarks.BenchOptions.Parse(["--store", "PostgreSQL,postgres,SQLite"]).Stores.Order());
    }

    [Fact]
    public async Task The_postgres_store_without_a_connection_string_is_reported_as_skipped()
    {
        if (Environment.GetEnvironmentVariable("RECALL_BENCH_POSTGRES") is { Length: > 0 })
        {
            return;
        }

        var result = await Cli.RunAsync("bench", "--workload", "persist-seq", "--store", "postgres", "--runs", "1", "--warmups", "0", "--scale-down", "1000");

        Assert.Contains("persist-seq/postgres skipped", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_names_every_workload_with_its_stores()
    {
        var result = await Cli.RunAsync("bench", "--list");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"persist-seq\s*│\s*memory, sqlite, postgres\s*│\s*100,000", result.Output);
        Assert.Matches(@"tell-pingpong\s*│\s*none\s*│", result.Output);
    }
}

/// <summary>The harness's runner, with workloads of the test's own.</summary>
public sealed class BenchRunnerTests
{
    /// <summary>A run that never ends by itself, and watches no token.</summary>
    private sealed class EndlessWorkload : Recall.Benchmarks.IWorkload
    {
        public TaskCompletionSource Running { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> CleanedUp { get; } = [];

        public string Name => "endless";

        public IReadOnlyList<string> Stores => ["none"];

        public long N => 1;

        public async Task<Recall.Benchmarks.RunResult> RunAsync(Recall.Benchmarks.RunContext context)
        {
            context.CreateSystem();
            Running.TrySetResult();
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
            throw new InvalidOperationException("unreachable");
        }

        public Task CleanUpAsync(string store)
        {
            CleanedUp.Add(store);
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task Cancelling_inside_a_run_ends_the_runner_at_once_and_still_cleans_up()
    {
        var workload = new EndlessWorkload();
        var options = new Recall.Benchmarks.BenchOptions { Runs = 1, Warmups = 0 };
        var output = new StringWriter();
        var runner = new Recall.Benchmarks.Runner(options, new Recall.Benchmarks.JsonLinesObserver(output, TextWriter.Null), [workload]);
        using var cancellation = new CancellationTokenSource();

        var run = runner.RunAsync(cancellation.Token);
        await workload.Running.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(["none"], workload.CleanedUp);
        Assert.Equal("", output.ToString()); // neither a result nor a failure line
    }
}
