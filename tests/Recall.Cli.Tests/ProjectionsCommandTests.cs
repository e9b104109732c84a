using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Recall.Persistence;
using Recall.Persistence.Query;
using Recall.Persistence.Sqlite;
using Recall.Projections;
using Recall.Projections.Sqlite;
using Recall.Samples.Wallet;

namespace Recall.Cli.Tests;

/// <summary><c>recall projections FILE</c>: the offsets table of a SQLite file and each projection's lag behind the journal in it.</summary>
public sealed class ProjectionsCommandTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task Lists_every_projection_with_state_offset_lag_and_shortened_last_error()
    {
        // Three events tagged "wallet": orderings 1 (alice +10), 2 (alice -3), 3 (bob +5).
        await _journal.WriteWalletsAsync(tag: "wallet");
        var events = Events();
        var offsets = new SqliteProjectionOffsetStore(_journal.Path);

        // By tag, after the first event: two wait, the newest 90.5 s after the handled one's stored timestamp.
        await offsets.SaveOffsetAsync(new ProjectionId("balances", "wallet"), Offset.Sequence(1), events[2].Timestamp - TimeSpan.FromSeconds(90.5), default);
        await offsets.SaveStateAsync(new ProjectionId("balances", "wallet"), ProjectionState.Running, null, default);

        // By slices (persistence ids without '|' have the entity type ""), caught up.
        await offsets.SaveOffsetAsync(new ProjectionId("everything", ":0-1023"), Offset.Sequence(3), events[2].Timestamp, default);
        await offsets.SaveStateAsync(new ProjectionId("everything", ":0-1023"), ProjectionState.Paused, null, default);

        // A custom source: its key names no events, so the lag is unknown.
        var longError = "InvalidOperationException: " + new string('x', 200) + "\n   at Somewhere.Deep()";
        await offsets.SaveOffsetAsync(new ProjectionId("feed", "custom-feed"), Offset.Sequence(2), events[1].Timestamp, default);
        await offsets.SaveStateAsync(new ProjectionId("feed", "custom-feed"), ProjectionState.Failed, longError, default);
        SqliteConnection.ClearAllPools();

        var result = await Cli.RunAsync("projections", _journal.Path);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal("", result.Error);
        Assert.Matches(@"balances\s*│\s*wallet\s*│\s*running\s*│\s*1\s*│[^│]+│\s*2\s*│\s*1m 30s\s*│", result.Output);
        Assert.Matches(@"everything\s*│\s*:0-1023\s*│\s*paused\s*│\s*3\s*│[^│]+│\s*0\s*│\s*0s\s*│", result.Output);
        Assert.Matches(@"feed\s*│\s*custom-feed\s*│\s*failed\s*│\s*2\s*│[^│]+│\s*\?\s*│\s*\? \([^)]+ since last event\)\s*│", result.Output);
        Assert.Contains("InvalidOperationException: xxx", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', 100), result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Somewhere.Deep", result.Output, StringComparison.Ordinal);
        Assert.Contains("? feed (custom-feed): no events tagged 'custom-feed'", result.Output, StringComparison.Ordinal);

        // The same as JSON lines: numbers as numbers, unknown as null, the whole error.
        var json = await Cli.RunAsync("projections", _journal.Path, "--json");
        var rows = json.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, rows.Count);
        var balances = rows.Single(r => r.GetProperty("name").GetString() == "balances");
        Assert.Equal(("running", "1", 2L, 90.5), (balances.GetProperty("state").GetString(), balances.GetProperty("offset").GetString(), balances.GetProperty("lag_events").GetInt64(), balances.GetProperty("lag_time").GetDouble()));
        var feed = rows.Single(r => r.GetProperty("name").GetString() == "feed");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, feed.GetProperty("lag_events").ValueKind);
        Assert.Equal(longError, feed.GetProperty("last_error").GetString());
    }

    [Fact]
    public async Task A_real_exactly_once_projection_shows_its_offset_and_no_lag_once_caught_up()
    {
        await _journal.WriteWalletsAsync(tag: "wallet");
        await using (var system = ActorSystem.Create("cli-projection", o => o.UsePersistence(p => p.UseSqlite(_journal.Path).Events.RegisterAssemblyOf<Wallet>()).UseProjections()))
        {
            var projection = SqliteProjection.ExactlyOnce("counted", ProjectionSource.EventsByTag("wallet"), _journal.Path, (_, _, _, _) => Task.CompletedTask);
            var handle = system.Projections().Start(projection);
            await WaitUntilAsync(async () => (await handle.GetStatusAsync()).Offset == Offset.Sequence(3));
        }

        SqliteConnection.ClearAllPools();
        var result = await Cli.RunAsync("projections", _journal.Path);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"counted\s*│\s*wallet\s*│\s*(running|stopped)\s*│\s*3\s*│[^│]+│\s*0\s*│\s*0s\s*│", result.Output);
    }

    [Fact]
    public async Task Offsets_without_the_journal_in_the_file_show_the_age_of_the_last_event_and_say_why()
    {
        var offsets = new SqliteProjectionOffsetStore(_journal.Path);
        await offsets.SaveOffsetAsync(new ProjectionId("balances", "wallet"), Offset.Sequence(7), DateTimeOffset.UtcNow - TimeSpan.FromHours(2.5), default);
        SqliteConnection.ClearAllPools();

        var result = await Cli.RunAsync("projections", _journal.Path);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"balances\s*│\s*wallet\s*│[^│]+│\s*7\s*│[^│]+│\s*\?\s*│\s*\? \(2h 30m since last event\)", result.Output);
        Assert.Contains("no Recall journal", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_without_projections_says_so_and_succeeds()
    {
        await _journal.WriteWalletsAsync();

        var result = await Cli.RunAsync("projections", _journal.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Contains($"no projections in {_journal.Path}", result.Output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_file_is_one_error_line_and_no_database_is_created()
    {
        var missing = Path.Combine(_journal.Folder, "typo.db");

        var result = await Cli.RunAsync("projections", missing);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(missing, line, StringComparison.Ordinal);
        Assert.Contains("does not exist", line, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_journal.Folder));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_one_error_line_and_is_left_untouched()
    {
        File.WriteAllText(_journal.Path, "notes, not a database\n");
        var before = File.ReadAllBytes(_journal.Path);

        var result = await Cli.RunAsync("projections", _journal.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not a SQLite database", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_journal.Path));
    }

    [Fact]
    public async Task Reading_leaves_the_file_byte_for_byte_unchanged()
    {
        await _journal.WriteWalletsAsync(tag: "wallet");
        await new SqliteProjectionOffsetStore(_journal.Path).SaveOffsetAsync(new ProjectionId("balances", "wallet"), Offset.Sequence(1), DateTimeOffset.UtcNow, default);
        SqliteConnection.ClearAllPools();
        var before = SHA256.HashData(File.ReadAllBytes(_journal.Path));

        Assert.Equal(0, (await Cli.RunAsync("projections", _journal.Path)).ExitCode);

        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(_journal.Path)));
    }

    [Theory]
    [InlineData("post:0-511", "post", 0, 511)]
    [InlineData(":0-1023", "", 0, 1023)]
    [InlineData("a:b:3-3", "a:b", 3, 3)]
    public void Slice_keys_are_recognized(string key, string entityType, int min, int max) =>
        Assert.Equal((entityType, min, max), ProjectionsReader.ParseSlices(key));

    [Theory]
    [InlineData("post")]
    [InlineData("post:0-1024")]
    [InlineData("post:9-3")]
    [InlineData("post:-3")]
    [InlineData("a-b")]
    public void Other_keys_are_tags(string key) => Assert.Null(ProjectionsReader.ParseSlices(key));

    private List<Persistence.Journal.StoredEventRow> Events()
    {
        using var inspector = new SqliteJournalInspector(_journal.Path);
        return [.. inspector.TailAsync(10).GetAwaiter().GetResult()];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TestKit.TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20);
        }
    }
}

/// <summary>The PostgreSQL commands' errors that need no server.</summary>
public sealed class PostgresCommandErrorTests
{
    [Theory]
    [InlineData("projections", "--postgres")]
    [InlineData("postgres", "init", "--postgres")]
    [InlineData("postgres", "init")]
    public async Task An_unreachable_server_is_one_error_line_naming_host_and_database_never_the_password(params string[] args)
    {
        // Port 1 on the loopback: nothing listens, the connection is refused at once.
        var result = await Cli.RunAsync([.. args, "Host=127.0.0.1;Port=1;Database=shop;Username=app;Password=s3cret-pw;Timeout=5"]);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("127.0.0.1:1", line, StringComparison.Ordinal);
        Assert.Contains("'shop'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", result.Error + result.Output, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Theory]
    [InlineData("postgres", "init")]
    [InlineData("postgres", "init", "Host=a", "--postgres", "Host=b")]
    [InlineData("postgres", "init", "--script", "--schema", "not a schema")]
    public async Task A_postgres_init_command_line_that_cannot_be_used_is_exit_code_2(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.ErrorLines);
        Assert.Equal("", result.Output);
    }
}
