using Recall.Persistence.PostgreSql.Tests;

namespace Recall.Cli.Tests;

/// <summary>
/// <c>recall demo cluster</c> starts three node processes, kills one with SIGKILL, starts it again and
/// checks every balance against the commands acknowledged: its exit code is that check.
/// </summary>
public sealed class ClusterDemoTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task Demo_cluster_survives_a_killed_node_and_its_restart_with_every_balance_matching()
    {
        var result = await Cli.RunAsync("demo", "cluster", "--db", _journal.Path);

        ClusterDemoOutput.AssertPassed(result);

        // The wallets' events are in the file, as the inspection commands read it.
        var ids = await Cli.RunAsync("journal", "ids", _journal.Path);
        Assert.Contains("cluster-wallet-w01", ids.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.ChangeExtension(_journal.Path, ".log")), "the nodes' log is next to the file");
    }
}

/// <summary>The cluster demo on PostgreSQL: the same run, in the schema <c>recall_cluster_demo</c>.</summary>
[RequiresPostgres]
public sealed class PostgreSqlClusterDemoTests : IDisposable
{
    private readonly TempJournal _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Demo_cluster_on_postgres_survives_a_killed_node_and_its_restart()
    {
        try
        {
            var result = await Cli.RunAsync("demo", "cluster", "--postgres", PostgresServer.Required, "--log", Path.ChangeExtension(_folder.Path, ".log"));

            ClusterDemoOutput.AssertPassed(result);
        }
        finally
        {
            await PostgresServer.DropSchemaAsync("recall_cluster_demo");
        }
    }
}

internal static class ClusterDemoOutput
{
    public static void AssertPassed(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        foreach (var step in new[] { "with SIGKILL", "is Down after", "answer again", "rebalanced", "all 60 balances equal the acknowledged commands", "left the cluster gracefully" })
        {
            Assert.Contains(step, result.Output, StringComparison.Ordinal);
        }
    }
}
