using System.ComponentModel;
using Recall.Cli.Demo;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall demo</c> (wallets crash and recover) and <c>recall demo-kernel</c> (plain actors crash and heal).</summary>
internal sealed class DemoModule : ICommandModule
{
    public int Order => 10;

    public void Register(IConfigurator app)
    {
        app.AddCommand<DemoCommand>("demo")
            .WithDescription("Event-sourced wallets take commands, crash, and recover exactly what was acknowledged (SQLite by default).")
            .WithExample("demo")
            .WithExample("demo", "--kill")
            .WithExample("demo", "--db", "wallets.db")
            .WithExample("demo", "--postgres", "\"Host=db;Database=shop;Username=app\"", "--kill");
        app.AddCommand<DemoKernelCommand>("demo-kernel")
            .WithDescription("A supervised pipeline of plain actors that crashes and heals.");
    }
}

/// <summary>Settings of <c>recall demo</c>.</summary>
internal sealed class DemoSettings : CommandSettings
{
    /// <summary>The SQLite file of the wallets.</summary>
    [CommandOption("--db <FILE>")]
    [Description("The SQLite file of the wallets (created when missing; default recall-demo.db)")]
    public string? Db { get; set; }

    /// <summary>Run the wallets in a child process and kill it with SIGKILL.</summary>
    [CommandOption("--kill")]
    [Description("Run the wallets in a child process and kill it with SIGKILL mid-way, then recover")]
    public bool Kill { get; set; }

    /// <summary>Keep the wallets in PostgreSQL.</summary>
    [CommandOption("--postgres [CONNECTION]")]
    [Description("Keep the wallets in PostgreSQL, schema recall_demo: an Npgsql connection string (default: the RECALL_POSTGRES environment variable)")]
    public FlagValue<string>? Postgres { get; set; }

    /// <summary>The child process of --kill: runs the commands and prints one line per acknowledged one.</summary>
    [CommandOption("--child", IsHidden = true)]
    public bool Child { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Postgres is { IsSet: true } && Db is not null
            ? ValidationResult.Error("Give either --db or --postgres, not both.")
            : ValidationResult.Success();
}

/// <summary><c>recall demo</c>.</summary>
internal sealed class DemoCommand(IAnsiConsole console) : AsyncCommand<DemoSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DemoSettings settings, CancellationToken cancellationToken)
    {
        var store = DemoStore.Create(settings.Db ?? "recall-demo.db", settings.Postgres?.IsSet == true, settings.Postgres?.Value);
        return settings.Child
            ? await WalletDemo.RunChildAsync(store)
            : await WalletDemo.RunAsync(store, settings.Kill, console);
    }
}

/// <summary><c>recall demo-kernel</c>.</summary>
internal sealed class DemoKernelCommand(IAnsiConsole console) : AsyncCommand
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken) => KernelDemo.RunAsync(console);
}
