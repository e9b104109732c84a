namespace Recall.Cli.Tests;

/// <summary>Every error is one line without a stack trace, and a non-zero exit code: 2 for a wrong command line.</summary>
public sealed class ErrorTests
{
    [Theory]
    [InlineData("frobnicate")]
    [InlineData("journal", "frobnicate")]
    [InlineData("journal", "ids", "shop.db", "--frobnicate")]
    [InlineData("journal", "ids", "shop.db", "extra-argument")]
    [InlineData("journal", "ids")]
    [InlineData("journal", "ids", "shop.db", "--postgres", "Host=localhost")]
    [InlineData("journal", "ids", "shop.db", "--schema", "s")]
    [InlineData("journal", "events", "shop.db")]
    [InlineData("journal", "tail", "shop.db", "many")]
    [InlineData("bench", "--runs", "0")]
    [InlineData("bench", "--workload", "no-such-workload")]
    [InlineData("demo", "--db", "x.db", "--postgres", "Host=localhost")]
    public async Task A_wrong_command_line_is_one_error_line_and_exit_code_2(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("recall: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Recall.", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Spectre.", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("journal", "ids")]
    [InlineData("projections")]
    [InlineData("cluster", "members")]
    [InlineData("dashboard")]
    public async Task A_directory_given_as_the_file_is_named_a_directory_not_a_missing_file(params string[] command)
    {
        var folder = Directory.CreateTempSubdirectory("recall-cli-dir-").FullName;
        try
        {
            var result = await Cli.RunAsync([.. command, folder]);

            Assert.Equal(1, result.ExitCode);
            Assert.Equal([$"recall: '{folder}' is a directory, not a database file: name the SQLite file in it."], result.ErrorLines);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Fact]
    public async Task An_unreachable_postgres_server_is_named_by_host_and_database_never_with_the_password()
    {
        // Port 1 on the loopback: nothing listens, the connection is refused at once.
        var result = await Cli.RunAsync("journal", "ids", "--postgres", "Host=127.0.0.1;Port=1;Database=shop;Username=app;Password=s3cret-pw;Timeout=5");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("127.0.0.1:1", line, StringComparison.Ordinal);
        Assert.Contains("'shop'", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", result.Error + result.Output, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task A_malformed_postgres_connection_string_is_a_usage_error_without_the_password()
    {
        var result = await Cli.RunAsync("journal", "ids", "--postgres", "Hots=db;Password=s3cret-pw");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("connection string", line, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("failed:\n  at Host=db;Password=abc;Database=x", "failed: at Host=db;Password=***;Database=x")]
    [InlineData("pwd = 'abc' and PASSWORD=xyz", "pwd=*** and PASSWORD=***")]
    public void An_error_line_is_flattened_and_masks_passwords(string message, string expected) =>
        Assert.Equal(expected, RecallApp.OneLine(message));

    [Fact]
    public async Task Help_lists_every_command_and_exits_0()
    {
        var result = await Cli.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "demo", "demo-kernel", "journal", "bench" })
        {
            Assert.Matches($@"(?m)^\s+{command}\s", result.Output);
        }

        Assert.DoesNotContain("--child", (await Cli.RunAsync("demo", "--help")).Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("132", false, 0, 132)] // COLUMNS wins
    [InlineData("132", true, 90, 132)]
    [InlineData(null, true, 173, 173)] // piped from a terminal: its width
    [InlineData(null, true, 0, null)] // piped with no terminal: the console's default
    [InlineData(null, false, 173, null)] // a terminal: the console measures it
    [InlineData("wide", true, 100, 100)] // not a number: ignored
    public void Tables_take_COLUMNS_or_the_terminal_width_when_piped(string? columns, bool piped, int terminal, int? expected) =>
        Assert.Equal(expected, RecallApp.TableWidth(columns, piped, () => terminal));

    [Fact]
    public void With_no_terminal_to_measure_the_width_is_left_to_the_console() =>
        Assert.Null(RecallApp.TableWidth(null, outputRedirected: true, () => throw new IOException("not a terminal")));
}
