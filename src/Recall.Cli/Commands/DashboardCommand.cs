using System.ComponentModel;
using Recall.Persistence.Journal;
using Recall.Cluster.Dashboard;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall dashboard</c>: the cluster dashboard served from the database alone, read-only.</summary>
internal sealed class DashboardModule : ICommandModule
{
    public int Order => 45;

    public void Register(IConfigurator app) =>
        app.AddCommand<DashboardCommand>("dashboard")
            .WithDescription("Serves the live cluster dashboard (members, shards, singletons and leases, projections) from a SQLite file or PostgreSQL schema, read-only, until Ctrl+C.")
            .WithExample("dashboard", "shop.db")
            .WithExample("dashboard", "--postgres", "\"Host=db;Database=shop;Username=app\"", "--port", "8080");
}

/// <summary>Settings of <c>recall dashboard</c>.</summary>
internal sealed class DashboardSettings : StoreSettings
{
    /// <summary>The HTTP port.</summary>
    [CommandOption("--port <PORT>")]
    [Description("The HTTP port (default 8080; 0 for a free one)")]
    public int Port { get; set; } = 8080;

    /// <summary>The interface to listen on.</summary>
    [CommandOption("--host <ADDRESS>")]
    [Description("The interface to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for all)")]
    public string Host { get; set; } = "127.0.0.1";

    /// <inheritdoc />
    public override ValidationResult Validate() =>
        Port is < 0 or > 65535 ? ValidationResult.Error($"--port must be 0 to 65535, not {Port}.") : base.Validate();
}

/// <summary><c>recall dashboard</c>.</summary>
internal sealed class DashboardCommand(IAnsiConsole console) : AsyncCommand<DashboardSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, DashboardSettings settings, CancellationToken cancellationToken)
    {
        // Opened once up front: a missing file or unreachable server fails here, with its reason.
        string location;
        await using (var journal = await settings.OpenJournalAsync(cancellationToken))
        {
            location = journal.Location;
        }

        var options = new DashboardOptions { Host = settings.Host, Port = settings.Port, RefreshInterval = TimeSpan.FromSeconds(2) };
        DashboardServer server;
        try
        {
            server = await DashboardServer.StartAsync(options, new StoreDashboardSource(location, settings), cancellationToken: cancellationToken);
        }
        catch (Exception exception) when (exception is ArgumentException or InvalidOperationException)
        {
            throw new CliException(exception.Message);
        }

        await using (server)
        {
            console.MarkupLine($"dashboard of [blue]{Markup.Escape(location)}[/] at [blue]{server.Address}[/] (read-only; Ctrl+C stops)");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                console.MarkupLine("dashboard stopped");
            }
        }

        return 0;
    }
}

/// <summary>
/// What the database alone says: members, leases, shard homes and remembered entities, stored
/// projection offsets with their lag. No actions. Each read opens the store afresh, so that a
/// SQLite file read while no process had it open (as immutable) is not read so once a cluster
/// starts writing it.
/// </summary>
internal sealed class StoreDashboardSource(string location, StoreSettings settings) : IDashboardSource
{
    public string Name => location;

    public bool CanAct => false;

    public async Task<DashboardState> ReadAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var now = DateTimeOffset.UtcNow;
        IJournalInspector journal;
        try
        {
            journal = await settings.OpenJournalAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return new DashboardState(Name, now, [], [], [], [], null, false, [$"store: {RecallApp.OneLine(exception.GetBaseException().Message)}"]);
        }

        await using var opened = journal;
        var members = await PartAsync("members", problems, async () => (await journal.MembersAsync(cancellationToken)).Select(m => DashboardMember.From(m, now)).ToList());
        var leases = await PartAsync("leases", problems, async () => (await journal.LeasesAsync(cancellationToken)).Select(l => DashboardLease.From(l, now)).ToList());
        var shards = await PartAsync("shards", problems, async () => (await journal.ShardsAsync(cancellationToken)).Select(s => DashboardShard.From(s, null)).ToList());
        var projections = await PartAsync("projections", problems, async () =>
            (await ProjectionsReader.ReadAsync(settings, TimeProvider.System, cancellationToken)).Rows
                .Select(r => new DashboardProjection(
                    r.Projection.Id.Name,
                    r.Projection.Id.Key,
                    r.Projection.State.ToString(),
                    r.Projection.Offset.ToString(),
                    r.Lag.Events,
                    r.Lag.Time is { } time ? Math.Round(time.TotalSeconds, 1) : null,
                    r.Projection.LastError,
                    false))
                .ToList());
        return new DashboardState(Name, now, members, shards, leases, projections, null, false, problems);
    }

    public Task<string> ActAsync(DashboardAction action, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("The dashboard of the recall tool only reads the database: actions are served by a node (ClusterOptions.UseDashboard with a token).");

    private static async Task<T> PartAsync<T>(string part, List<string> problems, Func<Task<T>> read)
        where T : new()
    {
        try
        {
            return await read();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            problems.Add($"{part}: {RecallApp.OneLine(exception.GetBaseException().Message)}");
            return new T();
        }
    }
}
