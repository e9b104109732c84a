using Microsoft.Data.Sqlite;
using Recall.Persistence;
using Recall.Persistence.Serialization;
using Recall.Persistence.Sqlite;
using Recall.Samples.Wallet;
using Recall.TestKit;
using Spectre.Console.Testing;

// The PostgreSQL tests of this assembly skip (or, under RECALL_REQUIRE_POSTGRES=1, fail) without a
// server, exactly as those of Recall.Persistence.PostgreSql.Tests do.
[assembly: Xunit.TestFramework("Recall.Persistence.PostgreSql.Tests.PostgresTestFramework", "Recall.Persistence.PostgreSql.Tests")]

namespace Recall.Cli.Tests;

/// <summary>What one command line printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    /// <summary>The error output's lines.</summary>
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>Runs the tool in-process, as <c>recall ARGS</c>, with a test console wide enough that tables do not wrap.</summary>
public static class Cli
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var console = new TestConsole();
        console.Width(250);
        var error = new StringWriter();
        var exitCode = await RecallApp.RunAsync(args, console, error);
        return new CliResult(exitCode, console.Output, error.ToString());
    }
}

/// <summary>Tags every event it is registered for with one tag.</summary>
public sealed class TagAll(string tag) : IEventAdapter
{
    public object ToJournal(object @event) => new Tagged(@event, tag);

    public IReadOnlyList<object> FromJournal(object stored, string manifest) => [stored];
}

/// <summary>A SQLite journal in a fresh temporary folder, written by the store itself; removed with the folder.</summary>
public sealed class TempJournal : IDisposable
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));

    public TempJournal()
    {
        Folder = Directory.CreateTempSubdirectory("recall-cli-").FullName;
        Path = System.IO.Path.Combine(Folder, "shop.db");
    }

    public string Folder { get; }

    public string Path { get; }

    /// <summary>wallet-alice: +10, -3 (balance 7); wallet-bob: +5; every event tagged <paramref name="tag"/> when given.</summary>
    public async Task WriteWalletsAsync(string? tag = null)
    {
        await using var system = ActorSystem.Create("cli-tests", o => o.UsePersistence(p =>
        {
            p.UseSqlite(Path).Events.RegisterAssemblyOf<Wallet>();
            if (tag is not null)
            {
                p.Adapters.AddWrite<BalanceChangedBy>(new TagAll(tag));
            }
        }));
        var alice = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
        alice.Tell(new TakeMy(10), null);
        Assert.Equal(new TakeMy(3), await alice.Ask<TakeMy>(new GiveMe(3), Timeout));
        var bob = system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
        bob.Tell(new TakeMy(5), null);
        Assert.Equal(5, await bob.Ask<int>(new GetBalance(), Timeout));
        await system.TerminateAsync();
        SqliteConnection.ClearAllPools(); // the writer's connections close: the file is left as a stopped service leaves it
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
