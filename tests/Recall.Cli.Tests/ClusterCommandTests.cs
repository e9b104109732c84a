using Recall.Persistence.Membership;
using Recall.Persistence.Sqlite;

namespace Recall.Cli.Tests;

public sealed class ClusterCommandTests : IDisposable
{
    private readonly TempJournal _journal = new();

    [Fact]
    public async Task Cluster_leases_lists_each_lease_with_its_holder_token_and_state()
    {
        await using (var leases = new SqliteLeaseStore(new SqliteStoreOptions { Path = _journal.Path }))
        {
            await leases.TryAcquireAsync("singleton:ledger", "recall://shop@10.0.0.5:7400#42", TimeSpan.FromMinutes(10), default);
            var old = await leases.TryAcquireAsync("singleton:report", "recall://shop@10.0.0.6:7400#7", TimeSpan.FromMinutes(10), default);
            await leases.ReleaseAsync("singleton:report", old!.Holder, old.FencingToken, default);
        }

        var result = await Cli.RunAsync("cluster", "leases", _journal.Path);

        Assert.Equal(0, result.ExitCode);
        var ledger = Assert.Single(result.Output.Split('\n'), line => line.Contains("singleton:ledger", StringComparison.Ordinal));
        Assert.Contains("recall://shop@10.0.0.5:7400#42", ledger, StringComparison.Ordinal);
        Assert.Contains("held", ledger, StringComparison.Ordinal);
        var report = Assert.Single(result.Output.Split('\n'), line => line.Contains("singleton:report", StringComparison.Ordinal));
        Assert.Contains("expired", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_leases_of_a_journal_without_leases_says_so_and_a_missing_file_is_an_error()
    {
        await _journal.WriteWalletsAsync();

        var empty = await Cli.RunAsync("cluster", "leases", _journal.Path);
        var missing = await Cli.RunAsync("cluster", "leases", _journal.Path + ".nothing");

        Assert.Equal(0, empty.ExitCode);
        Assert.Contains("no leases in", empty.Output, StringComparison.Ordinal);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("does not exist", missing.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(_journal.Path + ".nothing"));
    }

    [Fact]
    public async Task Cluster_members_lists_each_member_with_its_status_roles_and_heartbeat()
    {
        await using (var members = new SqliteMembershipStore(new SqliteStoreOptions { Path = _journal.Path }))
        {
            await members.TryJoinAsync("recall://shop@10.0.0.5:7400", 42, ["web", "ledger"], TimeSpan.FromMinutes(10), default);
            await members.SetStatusAsync("recall://shop@10.0.0.5:7400", 42, MemberStatus.Up, default);
            await members.TryJoinAsync("recall://shop@10.0.0.6:7400", 7, [], TimeSpan.FromMinutes(10), default);
            await members.SetStatusAsync("recall://shop@10.0.0.6:7400", 7, MemberStatus.Removed, default);
        }

        var result = await Cli.RunAsync("cluster", "members", _journal.Path);

        Assert.Equal(0, result.ExitCode);
        var up = Assert.Single(result.Output.Split('\n'), line => line.Contains("10.0.0.5:7400", StringComparison.Ordinal));
        Assert.Contains("42", up, StringComparison.Ordinal);
        Assert.Contains("Up", up, StringComparison.Ordinal);
        Assert.Contains("web, ledger", up, StringComparison.Ordinal);
        Assert.Matches(@"\d+\.\d s", up);
        var removed = Assert.Single(result.Output.Split('\n'), line => line.Contains("10.0.0.6:7400", StringComparison.Ordinal));
        Assert.Contains("Removed", removed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_members_of_a_journal_without_members_says_so()
    {
        await _journal.WriteWalletsAsync();

        var empty = await Cli.RunAsync("cluster", "members", _journal.Path);

        Assert.Equal(0, empty.ExitCode);
        Assert.Contains("no members in", empty.Output, StringComparison.Ordinal);
    }

    public void Dispose() => _journal.Dispose();
}
