using System.Diagnostics;
using Recall.Persistence;
using Recall.Persistence.Sqlite;

namespace Recall.Cli.Tests;

/// <summary>
/// Inspection writes nothing, not even beside the file, and works where the user may not write;
/// a store that cannot write says so at once.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ReadOnlyInspectionTests : IDisposable
{
    private readonly TempJournal _journal = new();

    public void Dispose()
    {
        File.SetUnixFileMode(_journal.Folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _journal.Dispose();
    }

    [Theory]
    [InlineData("journal", "ids")]
    [InlineData("journal", "tail")]
    [InlineData("projections")]
    [InlineData("cluster", "members")]
    public async Task Reading_a_file_no_process_has_open_leaves_no_wal_or_shm_file_behind(params string[] command)
    {
        await _journal.WriteWalletsAsync();
        Assert.False(File.Exists(_journal.Path + "-wal"), "the writer closed the file and removed its log");

        var result = await Cli.RunAsync([.. command, _journal.Path]);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal([_journal.Path], Directory.GetFiles(_journal.Folder));
    }

    [Fact]
    public async Task Reading_a_file_while_its_writer_is_live_sees_what_it_committed()
    {
        await using var system = ActorSystem.Create("live-writer", o => o.UsePersistence(p => p.UseSqlite(_journal.Path).Events.RegisterAssemblyOf<Recall.Samples.Wallet.Wallet>()));
        var wallet = system.Spawn(Props.Create(() => new Recall.Samples.Wallet.Wallet("dora")), "wallet-dora");
        wallet.Tell(new Recall.Samples.Wallet.TakeMy(4), null);
        Assert.Equal(4, await wallet.Ask<int>(new Recall.Samples.Wallet.GetBalance(), TimeSpan.FromSeconds(30)));

        var result = await Cli.RunAsync("journal", "ids", _journal.Path, "--json");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("\"persistence_id\":\"wallet-dora\",\"events\":1", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("journal", "ids")]
    [InlineData("projections")]
    public async Task A_file_in_a_folder_the_user_cannot_write_can_be_read(params string[] command)
    {
        await _journal.WriteWalletsAsync();

        var (exitCode, output, error) = await RunAsUserWithoutWriteAccessAsync([.. command, _journal.Path]);

        Assert.True(exitCode == 0, error);
        Assert.Contains(command[0] == "journal" ? "wallet-alice" : "no projections in", output, StringComparison.Ordinal);
        Assert.Equal([_journal.Path], Directory.GetFiles(_journal.Folder));
    }

    [Fact]
    public async Task The_demo_on_a_file_the_user_cannot_write_fails_at_once_saying_so()
    {
        await _journal.WriteWalletsAsync();

        var (exitCode, _, error) = await RunAsUserWithoutWriteAccessAsync(["demo", "--db", _journal.Path]);

        Assert.Equal(1, exitCode);
        Assert.StartsWith($"recall: '{_journal.Path}' cannot be", error, StringComparison.Ordinal);
        Assert.Contains("not writable by this user, or the file system is read-only", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the tool in a process that may read the journal's folder but not write it: when the tests
    /// run as root (who may write anywhere), in a mount namespace of its own where the folder is
    /// mounted read-only; else as this user after the folder was made read-only.
    /// </summary>
    private async Task<(int ExitCode, string Output, string Error)> RunAsUserWithoutWriteAccessAsync(string[] args)
    {
        var root = Environment.UserName == "root";
        var start = new ProcessStartInfo(root ? "unshare" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (root)
        {
            foreach (var argument in new[] { "-m", "sh", "-c", "mount --bind -o ro \"$0\" \"$0\" && exec \"$@\"", _journal.Folder, "dotnet" })
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            File.SetUnixFileMode(_journal.Folder, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "recall.dll"));
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await output, await error);
    }
}
