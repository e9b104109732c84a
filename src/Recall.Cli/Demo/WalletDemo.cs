using System.Diagnostics;
using System.Globalization;
using Recall.Actors;
using Recall.Persistence;
using Recall.Samples.Wallet;
using Spectre.Console;

namespace Recall.Cli.Demo;

/// <summary>
/// The main demo: wallets on the embedded SQLite store (or PostgreSQL) take commands (some
/// rejected), the process "crashes" (a restart of the actor system, or with --kill a child process
/// killed with SIGKILL), and the wallets recover their balances from the journal.
/// </summary>
internal static class WalletDemo
{
    private const int CommandsPerWallet = 40;
    private static readonly string[] Wallets = ["alice", "bob", "carol", "dave"];
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(DemoStore store, bool kill, IAnsiConsole console)
    {
        console.Write(new Rule($"[bold]Recall demo[/]: event-sourced wallets on {store.Name}").LeftJustified());
        console.MarkupLine($"journal: [blue]{Markup.Escape(store.Location)}[/] ({Markup.Escape(store.Durability)})");
        console.WriteLine();

        if (await store.PrepareAsync() is { } problem)
        {
            throw new CliException(problem);
        }

        var start = await WithSpinnerAsync(console, "recovering the wallets' current balances", () => RecoverAsync(store));
        return kill ? await KillAndRecoverAsync(store, start.Balances, console) : await RestartAndRecoverAsync(store, start.Balances, console);
    }

    /// <summary>Runs the commands and prints "ack wallet index balance" for each acknowledged one (the --kill child).</summary>
    public static async Task<int> RunChildAsync(DemoStore store)
    {
        await using var system = CreateSystem("demo-child", store);
        var output = Console.Out;
        await Task.WhenAll(Wallets.Select(async name =>
        {
            var wallet = system.Spawn(Props.Create(() => new Wallet(name)), $"wallet-{name}");
            var index = 0;
            foreach (var command in Commands(name))
            {
                wallet.Tell(command, null);
                var balance = await wallet.Ask<int>(new GetBalance(), AskTimeout);
                lock (output)
                {
                    output.WriteLine($"ack {name} {index++} {balance}");
                    output.Flush();
                }
            }
        }));
        return 0;
    }

    private static async Task<int> RestartAndRecoverAsync(DemoStore store, IReadOnlyDictionary<string, int> start, IAnsiConsole console)
    {
        var expected = new Dictionary<string, int>();
        var table = new Table().AddColumns("wallet", "start", "commands", "accepted", "rejected", "balance");
        await using (var system = CreateSystem("demo", store))
        {
            var results = await WithSpinnerAsync(console, "the wallets take their commands", () => Task.WhenAll(Wallets.Select(name => RunCommandsAsync(system, name, start[name]))));
            foreach (var result in results)
            {
                expected[result.Name] = result.Balance;
                table.AddRow(result.Name, Number(start[result.Name]), Number(CommandsPerWallet), Number(result.Accepted), Number(result.Rejected), Number(result.Balance));
            }
        }

        console.MarkupLine($"[bold]1.[/] {Wallets.Length} wallets took {CommandsPerWallet} commands each; a GiveMe beyond the balance is rejected and stores nothing:");
        console.Write(table);
        console.MarkupLine("[bold]2.[/] crash: the actor system is gone, and with it every balance held in memory");
        var recovered = await WithSpinnerAsync(console, "recovering from the journal", () => RecoverAsync(store));
        var verdict = Report(console, expected.ToDictionary(p => p.Key, p => (IReadOnlySet<int>)new HashSet<int> { p.Value }), recovered, "expected");
        console.MarkupLine($"next: [blue]recall demo --kill{Markup.Escape(store.DemoArguments)}[/] kills the process with SIGKILL instead; [blue]recall journal events {Markup.Escape(store.InspectArguments)} wallet-alice[/] shows one wallet's events");
        return verdict;
    }

    private static async Task<int> KillAndRecoverAsync(DemoStore store, IReadOnlyDictionary<string, int> start, IAnsiConsole console)
    {
        console.MarkupLine("[bold]1.[/] a child process runs the wallets and reports each acknowledged command...");
        var acknowledged = new Dictionary<string, (int Index, int Balance)>();
        var acks = 0;
        var startInfo = ChildStartInfo(store);
        using (var child = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start the child process."))
        {
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reading = Task.Run(async () =>
            {
                while (await child.StandardOutput.ReadLineAsync() is { } line)
                {
                    var parts = line.Split(' ');
                    if (parts is ["ack", var name, var index, var balance])
                    {
                        acknowledged[name] = (int.Parse(index, CultureInfo.InvariantCulture), int.Parse(balance, CultureInfo.InvariantCulture));
                        if (++acks >= Wallets.Length * CommandsPerWallet / 2)
                        {
                            enough.TrySetResult();
                        }
                    }
                }

                enough.TrySetResult();
            });
            await WithSpinnerAsync(console, "waiting for half of the commands to be acknowledged", () => Task.WhenAny(enough.Task, Task.Delay(TimeSpan.FromSeconds(60))));
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
            await reading;
        }

        console.MarkupLine($"[bold]2.[/] killed it with SIGKILL after {acks} acknowledged commands (no shutdown code ran)");
        var possible = new Dictionary<string, IReadOnlySet<int>>();
        var table = new Table().AddColumns("wallet", "acknowledged", "last acknowledged balance");
        foreach (var name in Wallets)
        {
            var (index, balance) = acknowledged.GetValueOrDefault(name, (-1, start[name]));
            var commands = Commands(name);

            // The command after the last acknowledged one may or may not have been stored when the
            // process died; both outcomes are correct, anything else is not.
            var next = index + 1 < commands.Count ? Apply(balance, commands[index + 1]).Balance : balance;
            possible[name] = new HashSet<int> { balance, next };
            table.AddRow(name, Number(index + 1), Number(balance));
        }

        console.Write(table);
        console.MarkupLine("   A wallet may recover one command more than it acknowledged: that command's event was already");
        console.MarkupLine("   durable in the journal when the process died, before its answer was printed. Acknowledged means");
        console.MarkupLine("   durable; durable does not mean acknowledged. Any other balance would be a lost or invented write.");
        var recovered = await WithSpinnerAsync(console, "recovering from the journal", () => RecoverAsync(store));
        var verdict = Report(console, possible, recovered, "acknowledged");
        console.MarkupLine("next: [blue]recall demo cluster[/] runs the wallets sharded on three node processes and kills one");
        return verdict;
    }

    private static int Report(IAnsiConsole console, Dictionary<string, IReadOnlySet<int>> expected, Recovered recovered, string expectedLabel)
    {
        console.MarkupLine($"[bold]3.[/] a new actor system recovers the wallets from the journal in [green]{recovered.Elapsed.TotalMilliseconds:0} ms[/]:");
        var table = new Table().AddColumns("wallet", expectedLabel, "recovered", "");
        var ok = true;
        foreach (var name in Wallets)
        {
            var match = expected[name].Contains(recovered.Balances[name]);
            ok &= match;
            table.AddRow(name, string.Join(" or ", expected[name].Order().Select(Number)), Number(recovered.Balances[name]), match ? "[green]ok[/]" : "[red]MISMATCH[/]");
        }

        console.Write(table);
        console.MarkupLine(ok ? "[green]every wallet recovered exactly what was acknowledged[/]" : "[red]a recovered balance does not match[/]");
        return ok ? 0 : 1;
    }

    private static async Task<Result> RunCommandsAsync(ActorSystem system, string name, int start)
    {
        var wallet = system.Spawn(Props.Create(() => new Wallet(name)), $"wallet-{name}");
        var expected = start;
        int accepted = 0, rejected = 0;
        foreach (var command in Commands(name))
        {
            var (balance, granted) = Apply(expected, command);
            if (command is GiveMe)
            {
                var reply = await wallet.Ask<object>(command, AskTimeout);
                if ((reply is TakeMy) != granted)
                {
                    throw new InvalidOperationException($"wallet {name} answered {reply} to {command} with {expected} coins");
                }
            }
            else
            {
                wallet.Tell(command, null);
            }

            expected = balance;
            if (granted)
            {
                accepted++;
            }
            else
            {
                rejected++;
            }
        }

        var stored = await wallet.Ask<int>(new GetBalance(), AskTimeout);
        if (stored != expected)
        {
            throw new InvalidOperationException($"wallet {name} holds {stored}, expected {expected}");
        }

        return new Result(name, accepted, rejected, stored);
    }

    private static async Task<Recovered> RecoverAsync(DemoStore store)
    {
        await using var system = CreateSystem("recovery", store);
        var clock = Stopwatch.StartNew();
        var balances = await Task.WhenAll(Wallets.Select(name =>
            system.Spawn(Props.Create(() => new Wallet(name)), $"wallet-{name}").Ask<int>(new GetBalance(), AskTimeout)));
        clock.Stop();
        return new Recovered(Wallets.Zip(balances).ToDictionary(p => p.First, p => p.Second), clock.Elapsed);
    }

    /// <summary>Shows a spinner with <paramref name="what"/> while <paramref name="work"/> runs, on a terminal only (piped output stays plain).</summary>
    private static Task<T> WithSpinnerAsync<T>(IAnsiConsole console, string what, Func<Task<T>> work) =>
        console.Profile.Capabilities.Interactive ? console.Status().StartAsync(what, _ => work()) : work();

    private static ActorSystem CreateSystem(string name, DemoStore store) =>
        ActorSystem.Create(name, o => o.UsePersistence(p => store.Use(p).Events.RegisterAssemblyOf<Wallet>()));

    /// <summary>The same commands on every run: the demo is reproducible.</summary>
    private static List<object> Commands(string wallet)
    {
        var random = new Random(wallet.Sum(c => c));
        var commands = new List<object>(CommandsPerWallet);
        for (var i = 0; i < CommandsPerWallet; i++)
        {
#pragma warning disable CA5394 // a reproducible demo, not security
            commands.Add(random.Next(3) == 0 ? new TakeMy(random.Next(5, 40)) : new GiveMe(random.Next(1, 25)));
#pragma warning restore CA5394
        }

        return commands;
    }

    private static (int Balance, bool Accepted) Apply(int balance, object command) => command switch
    {
        TakeMy t => (balance + t.Coins, true),
        GiveMe g when g.Coins <= balance => (balance - g.Coins, true),
        _ => (balance, false),
    };

    private static ProcessStartInfo ChildStartInfo(DemoStore store)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.ArgumentList.Add(typeof(WalletDemo).Assembly.Location);
        }

        info.ArgumentList.Add("demo");
        info.ArgumentList.Add("--child");
        foreach (var argument in store.ChildArguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed record Result(string Name, int Accepted, int Rejected, int Balance);

    private sealed record Recovered(IReadOnlyDictionary<string, int> Balances, TimeSpan Elapsed);
}
