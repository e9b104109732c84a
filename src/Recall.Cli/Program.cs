using Recall.Cli;
using Spectre.Console;

return args switch
{
    ["demo", .. var rest] when rest.Contains("--child") => await WalletDemo.RunChildAsync(Option(rest, "--db") ?? "recall-demo.db"),
    ["demo", .. var rest] => await WalletDemo.RunAsync(Option(rest, "--db") ?? "recall-demo.db", rest.Contains("--kill"), AnsiConsole.Console),
    ["demo-kernel", ..] => await KernelDemo.RunAsync(Console.Out),
    ["journal", .. var rest] => JournalCommands.Run(rest, AnsiConsole.Console),
    [] or ["help" or "--help" or "-h"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static string? Option(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static int Usage(TextWriter writer, int exitCode)
{
    writer.WriteLine("usage: recall <command>");
    writer.WriteLine();
    writer.WriteLine("commands:");
    writer.WriteLine("  demo [--db FILE] [--kill]   wallets on SQLite crash and recover (default file: recall-demo.db;");
    writer.WriteLine("                              --kill runs them in a child process killed with SIGKILL)");
    writer.WriteLine("  demo-kernel                 a supervised pipeline of plain actors that crashes and heals");
    writer.WriteLine("  journal ids FILE            the persistence ids in a SQLite journal");
    writer.WriteLine("  journal events FILE ID      the events of one persistence id (JSON payloads, tags, timestamps)");
    writer.WriteLine("  journal tail FILE [COUNT]   the newest events of the file (default 20)");
    return exitCode;
}
