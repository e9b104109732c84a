using System.ComponentModel;
using Recall.Cli.Demo;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall demo</c> (wallets crash and recover), <c>recall demo cluster</c> (a node is killed, its wallets move) and <c>recall demo-kernel</c> (plain actors crash and heal).</summary>
internal sealed class DemoModule : ICommandModule
{
    public int Order => 10;

    public void Register(IConfigurator app)
    {
        app.AddBranch("demo", demo =>
        {
            demo.SetDescription("Event-sourced wallets take commands, crash, and recover exactly what was acknowledged (SQLite by default); `demo cluster` runs them sharded on three node processes and kills one.");
            demo.SetDefaultCommand<DemoCommand>();
            demo.AddExample("demo");
            demo.AddExample("demo", "--kill");
            demo.AddExample("demo", "--db", "wallets.db");
            demo.AddExample("demo", "--postgres", "\"Host=db;Database=shop;Username=app\"", "--kill");
            demo.AddExample("demo", "cluster");
            demo.AddCommand<ClusterDemoCommand>("cluster")
                .WithDescription("Three node processes host sharded wallets; one is killed with SIGKILL, its wallets recover on the others, it comes back and the shards rebalance; every balance is checked.")
                .WithExample("demo", "cluster")
                .WithExample("demo", "cluster", "--postgres", "\"Host=db;Database=shop;Username=app\"");
        });
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

/// <summary>Settings of <c>recall demo cluster</c>.</summary>
internal sealed class ClusterDemoSettings : CommandSettings
{
    /// <summary>The SQLite file of the cluster.</summary>
    [CommandOption("--db <FILE>")]
    [Description("The SQLite file of journal, members, leases and shard homes (replaced on every run; default recall-cluster-demo.db)")]
    public string? Db { get; set; }

    /// <summary>Keep everything in PostgreSQL.</summary>
    [CommandOption("--postgres [CONNECTION]")]
    [Description("Keep everything in PostgreSQL, schema recall_cluster_demo (replaced on every run): an Npgsql connection string (default: the RECALL_POSTGRES environment variable)")]
    public FlagValue<string>? Postgres { get; set; }

    /// <summary>Where the nodes' warnings and errors go.</summary>
    [CommandOption("--log <FILE>")]
    [Description("Where the nodes' warnings and errors go (replaced on every run; default: the --db file's name ending in .log, else recall-cluster-demo.log)")]
    public string? Log { get; set; }

    /// <summary>Serve the cluster dashboard from the client.</summary>
    [CommandOption("--dashboard <PORT>")]
    [Description("Serve the live cluster dashboard on http://127.0.0.1:PORT from the demo's client member (on a terminal, the demo then waits for Enter before the cluster stops)")]
    public int? Dashboard { get; set; }

    /// <summary>Run as one node process of the demo.</summary>
    [CommandOption("--node", IsHidden = true)]
    public bool Node { get; set; }

    /// <summary>The node process's port.</summary>
    [CommandOption("--port <PORT>", IsHidden = true)]
    public int Port { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Postgres is { IsSet: true } && Db is not null ? ValidationResult.Error("Give either --db or --postgres, not both.")
        : Dashboard is < 0 or > 65535 ? ValidationResult.Error($"--dashboard must be a port (0 to 65535), not {Dashboard}.")
        : ValidationResult.Success();
}

/// <summary><c>recall demo cluster</c>.</summary>
internal sealed class ClusterDemoCommand(IAnsiConsole console) : AsyncCommand<ClusterDemoSettings>
{
    /// <summary>The PostgreSQL schema of the cluster demo.</summary>
    public const string Schema = "recall_cluster_demo";

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ClusterDemoSettings settings, CancellationToken cancellationToken)
    {
        var db = Path.GetFullPath(settings.Db ?? "recall-cluster-demo.db");
        var store = DemoStore.Create(db, settings.Postgres?.IsSet == true, settings.Postgres?.Value, Schema);
        return settings.Node
            ? await ClusterDemoNode.RunAsync(store, settings.Port)
            : await ClusterDemo.RunAsync(store, console, Path.GetFullPath(settings.Log ?? Path.ChangeExtension(db, ".log")), settings.Dashboard, cancellationToken);
    }
}

/// <summary><c>recall demo-kernel</c>.</summary>
internal sealed class DemoKernelCommand(IAnsiConsole console) : AsyncCommand
{
    /// <inheritdoc />
    public override Task<int> ExecuteAsync(CommandContext context, CancellationToken cancellationToken) => KernelDemo.RunAsync(console);
}
