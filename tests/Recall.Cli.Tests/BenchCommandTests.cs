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
