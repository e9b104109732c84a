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
        Assert.Matches(@"│\s*\d+\.\d\s*│$", up.TrimEnd()); // heartbeat age (s), the last column
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

    [Fact]
    public async Task Cluster_shards_lists_each_shard_with_its_home_and_remembered_entities_and_totals_per_node()
    {
        await using (var shards = new SqliteShardStore(new SqliteStoreOptions { Path = _journal.Path }))
        {
            await shards.SetHomeAsync("wallet", "3", "recall://shop@10.0.0.5:7400", default);
            await shards.SetHomeAsync("wallet", "7", "recall://shop@10.0.0.5:7400", default);
            await shards.SetHomeAsync("wallet", "9", "recall://shop@10.0.0.6:7400", default);
            await shards.AddEntityAsync("wallet", "7", "alice", default);
            await shards.AddEntityAsync("wallet", "7", "bob", default);
            await shards.AddEntityAsync("wallet", "8", "carol", default); // remembered, between homes
        }

        using var other = new TempJournal();
        await other.WriteWalletsAsync();

        var result = await Cli.RunAsync("cluster", "shards", _journal.Path);
        var empty = await Cli.RunAsync("cluster", "shards", other.Path);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"wallet\s*│\s*7\s*│\s*recall://shop@10\.0\.0\.5:7400\s*│\s*2\s", result.Output);
        Assert.Matches(@"wallet\s*│\s*8\s*│\s*none\s*│\s*1\s", result.Output);
        Assert.Matches(@"wallet\s*│\s*recall://shop@10\.0\.0\.5:7400\s*│\s*2\s*│\s*2\s", result.Output);
        Assert.Matches(@"wallet\s*│\s*recall://shop@10\.0\.0\.6:7400\s*│\s*1\s*│\s*0\s", result.Output);
        Assert.Equal(0, empty.ExitCode);
        Assert.Contains("no shards in", empty.Output, StringComparison.Ordinal);
    }

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task Json_prints_one_object_per_member_and_nothing_when_there_are_none()
    {
        Assert.Equal("", (await Cli.RunAsync("cluster", "members", _journal.Path, "--json")).Output);
        await using (var members = new SqliteMembershipStore(new SqliteStoreOptions { Path = _journal.Path }))
        {
            await members.TryJoinAsync("recall://shop@10.0.0.5:7400", 42, ["web", "ledger"], TimeSpan.FromMinutes(10), default);
            await members.SetStatusAsync("recall://shop@10.0.0.5:7400", 42, MemberStatus.Up, default);
        }

        var result = await Cli.RunAsync("cluster", "members", _journal.Path, "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        using var json = System.Text.Json.JsonDocument.Parse(Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var member = json.RootElement;
        Assert.Equal("recall://shop@10.0.0.5:7400", member.GetProperty("address").GetString());
        Assert.Equal("42", member.GetProperty("incarnation").GetString());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.Equal(["web", "ledger"], member.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.InRange(member.GetProperty("heartbeat_age_s").GetDouble(), 0, 600);
    }
}
