using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Recall.Persistence.Sqlite;
using Spectre.Console.Testing;

namespace Recall.Cli.Tests;

/// <summary><c>recall dashboard</c> serves what the database holds, read-only, until cancelled.</summary>
public sealed partial class DashboardCommandTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task A_file_no_process_had_open_at_start_shows_the_members_that_join_later()
    {
        await _journal.WriteWalletsAsync(); // closed: the first read is of a file nobody has open
        var source = new Commands.StoreDashboardSource(_journal.Path, new StoreSettings { File = _journal.Path });
        Assert.Empty((await source.ReadAsync(default)).Members);

        await using var members = new SqliteMembershipStore(new SqliteStoreOptions { Path = _journal.Path }); // a live writer from now on
        await members.TryJoinAsync("recall://shop@10.0.0.5:7400", 42, ["api"], TimeSpan.FromMinutes(5), default);

        var state = await source.ReadAsync(default);
        Assert.Empty(state.Problems);
        Assert.Equal("recall://shop@10.0.0.5:7400", Assert.Single(state.Members).Address);
    }

    [Fact]
    public async Task Dashboard_serves_the_members_and_leases_of_the_file_refuses_actions_and_stops_on_cancel()
    {
        var file = new SqliteStoreOptions { Path = _journal.Path };
        await using (var members = new SqliteMembershipStore(file))
        await using (var leases = new SqliteLeaseStore(file))
        {
            await members.TryJoinAsync("recall://shop@10.0.0.5:7400", 42, ["api"], TimeSpan.FromSeconds(5), default);
            await leases.TryAcquireAsync("singleton:ledger", "recall://shop@10.0.0.5:7400#42", TimeSpan.FromMinutes(10), default);
        }

        using var console = new TestConsole();
        console.Width(250);
        using var stop = new CancellationTokenSource();
        var running = RecallApp.RunAsync(["dashboard", _journal.Path, "--port", "0"], console, new StringWriter(), stop.Token);
        Uri? address = null;
        for (var i = 0; i < 300 && address is null && !running.IsCompleted; i++)
        {
            await Task.Delay(100);
            address = Address().Match(console.Output) is { Success: true } match ? new Uri(match.Value) : null;
        }

        Assert.True(address is not null, "no address printed: " + console.Output);
        using var http = new HttpClient();
        var state = JsonDocument.Parse(await http.GetStringAsync(new Uri(address, "api/state"))).RootElement;
        var member = Assert.Single(state.GetProperty("members").EnumerateArray());
        Assert.Equal("recall://shop@10.0.0.5:7400", member.GetProperty("address").GetString());
        Assert.Equal("42", member.GetProperty("incarnation").GetString());
        Assert.Equal("recall://shop@10.0.0.5:7400", state.GetProperty("leases")[0].GetProperty("holderAddress").GetString());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("deadLetters").ValueKind);
        Assert.False(state.GetProperty("actionsAllowed").GetBoolean());

        using (var action = await http.PostAsync(new Uri(address, "api/actions/leave"), null))
        {
            Assert.Equal(HttpStatusCode.Forbidden, action.StatusCode);
        }

        await stop.CancelAsync();
        Assert.Equal(0, await running.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Dashboard_of_a_missing_file_fails_at_once_with_the_file_named()
    {
        var result = await Cli.RunAsync("dashboard", _journal.Path + ".missing", "--port", "0");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(_journal.Path + ".missing", result.Error, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+/")]
    private static partial Regex Address();
}
