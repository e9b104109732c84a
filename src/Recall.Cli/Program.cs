using Recall.Cli;
using Spectre.Console;

return args switch
{
    ["demo", .. var rest] when rest.Contains("--child") => await WalletDemo.RunChildAsync(DemoStore.FromArguments(rest)),
    ["demo", .. var rest] => await RunDemoAsync(rest),
    ["demo-kernel", ..] => await KernelDemo.RunAsync(Console.Out),
    ["journal", .. var rest] => JournalCommands.Run(rest, AnsiConsole.Console),
    [] or ["help" or "--help" or "-h"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static async Task<int> RunDemoAsync(string[] args)
{
    DemoStore store;
    try
    {
        store = DemoStore.FromArguments(args);
    }
    catch (ArgumentException exception)
    {
        Console.Error.WriteLine($"recall demo: {exception.Message}");
        return 2;
    }

    return await WalletDemo.RunAsync(store, args.Contains("--kill"), AnsiConsole.Console);
}

static int Usage(TextWriter writer, int exitCode)
{
    writer.WriteLine("usage: recall <command>");
    writer.WriteLine();
    writer.WriteLine("commands:");
    writer.WriteLine("  demo [--db FILE] [--kill]   wallets on SQLite crash and recover (default file: recall-demo.db;");
    writer.WriteLine("                              --kill runs them in a child process killed with SIGKILL)");
    writer.WriteLine("  demo --postgres [CONN] [--kill]");
    writer.WriteLine("                              the same on PostgreSQL, in schema recall_demo (CONN: an Npgsql");
    writer.WriteLine("                              connection string; default: the RECALL_POSTGRES environment variable)");
    writer.WriteLine("  demo-kernel                 a supervised pipeline of plain actors that crashes and heals");
    writer.WriteLine("  journal ids FILE            the persistence ids in a SQLite journal");
    writer.WriteLine("  journal events FILE ID      the events of one persistence id (JSON payloads, tags, timestamps)");
    writer.WriteLine("  journal tail FILE [COUNT]   the newest events of the file (default 20)");
    return exitCode;
}
