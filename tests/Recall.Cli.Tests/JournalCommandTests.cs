using System.Security.Cryptography;
using Microsoft.Data.Sqlite;

namespace Recall.Cli.Tests;

/// <summary><c>recall journal ids|events|tail FILE</c> on a journal the SQLite store wrote.</summary>
public sealed class JournalCommandTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose() => _journal.Dispose();

    [Fact]
    public async Task Ids_lists_every_persistence_id_with_its_event_count_and_highest_sequence_number()
    {
        await _journal.WriteWalletsAsync();

        var result = await Cli.RunAsync("journal", "ids", _journal.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Error);
        Assert.Matches(@"wallet-alice\s*│\s*2\s*│\s*2\s", result.Output);
        Assert.Matches(@"wallet-bob\s*│\s*1\s*│\s*1\s", result.Output);
        Assert.True(result.Output.IndexOf("wallet-alice", StringComparison.Ordinal) < result.Output.IndexOf("wallet-bob", StringComparison.Ordinal), "in order of first appearance");
    }

    [Fact]
    public async Task Events_shows_one_ids_events_in_sequence_order_with_manifest_and_payload()
    {
        await _journal.WriteWalletsAsync();

        var result = await Cli.RunAsync("journal", "events", _journal.Path, "wallet-alice");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("wallet.balance-changed.v1", result.Output, StringComparison.Ordinal);
        var deposit = result.Output.IndexOf("{\"Coins\":10}", StringComparison.Ordinal);
        var withdrawal = result.Output.IndexOf("{\"Coins\":-3}", StringComparison.Ordinal);
        Assert.True(deposit >= 0 && withdrawal > deposit, result.Output);
        Assert.DoesNotContain("{\"Coins\":5}", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tail_shows_the_newest_events_of_the_file_oldest_first()
    {
        await _journal.WriteWalletsAsync();

        var result = await Cli.RunAsync("journal", "tail", _journal.Path, "2");

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("{\"Coins\":10}", result.Output, StringComparison.Ordinal);
        var alice = result.Output.IndexOf("{\"Coins\":-3}", StringComparison.Ordinal);
        var bob = result.Output.IndexOf("{\"Coins\":5}", StringComparison.Ordinal);
        Assert.True(alice >= 0 && bob > alice, result.Output);
    }

    [Fact]
    public async Task An_unknown_persistence_id_is_one_error_line_naming_it_and_exit_code_1()
    {
        await _journal.WriteWalletsAsync();

        var result = await Cli.RunAsync("journal", "events", _journal.Path, "wallet-zed");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("'wallet-zed'", line, StringComparison.Ordinal);
        Assert.Contains(_journal.Path, line, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Theory]
    [InlineData("ids")]
    [InlineData("events")]
    [InlineData("tail")]
    public async Task A_missing_file_is_an_error_naming_it_and_no_database_is_created(string command)
    {
        var missing = Path.Combine(_journal.Folder, "typo.db");
        string[] args = command == "events" ? ["journal", command, missing, "wallet-alice"] : ["journal", command, missing];

        var result = await Cli.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(missing, line, StringComparison.Ordinal);
        Assert.Contains("does not exist", line, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_journal.Folder));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_an_error_and_is_left_untouched()
    {
        File.WriteAllText(_journal.Path, "notes, not a database\n");
        var before = File.ReadAllBytes(_journal.Path);

        var result = await Cli.RunAsync("journal", "ids", _journal.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not a SQLite database", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_journal.Path));
    }

    [Fact]
    public async Task A_sqlite_database_of_another_application_is_not_a_recall_journal()
    {
        using (var connection = new SqliteConnection($"Data Source={_journal.Path};Pooling=false"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE orders (id INTEGER PRIMARY KEY)";
            command.ExecuteNonQuery();
        }

        var result = await Cli.RunAsync("journal", "tail", _journal.Path);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not a Recall journal", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reading_leaves_the_journal_file_byte_for_byte_unchanged()
    {
        await _journal.WriteWalletsAsync();
        SqliteConnection.ClearAllPools();
        var before = SHA256.HashData(File.ReadAllBytes(_journal.Path));

        Assert.Equal(0, (await Cli.RunAsync("journal", "ids", _journal.Path)).ExitCode);
        Assert.Equal(0, (await Cli.RunAsync("journal", "events", _journal.Path, "wallet-bob")).ExitCode);
        Assert.Equal(0, (await Cli.RunAsync("journal", "tail", _journal.Path)).ExitCode);

        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(_journal.Path)));
    }

    [Fact]
    public async Task Json_prints_one_object_per_event_with_typed_values_and_no_table()
    {
        await _journal.WriteWalletsAsync(tag: "wallet");

        var result = await Cli.RunAsync("journal", "tail", _journal.Path, "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        using var first = System.Text.Json.JsonDocument.Parse(lines[0]);
        var e = first.RootElement;
        Assert.Equal("wallet-alice", e.GetProperty("persistence_id").GetString());
        Assert.Equal(1, e.GetProperty("seq").GetInt64());
        Assert.Equal("wallet.balance-changed.v1", e.GetProperty("manifest").GetString());
        Assert.Equal("{\"Coins\":10}", e.GetProperty("payload").GetString());
        Assert.Equal(["wallet"], e.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(TimeSpan.Zero, e.GetProperty("timestamp_utc").GetDateTimeOffset().Offset);

        var ids = await Cli.RunAsync("journal", "ids", _journal.Path, "--json");
        Assert.Equal(
            ["{\"persistence_id\":\"wallet-alice\",\"events\":2,\"highest_sequence_number\":2}", "{\"persistence_id\":\"wallet-bob\",\"events\":1,\"highest_sequence_number\":1}"],
            ids.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
