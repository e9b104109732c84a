using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall cluster</c>: what the cluster keeps in the database, read without changing anything.</summary>
internal sealed class ClusterModule : ICommandModule
{
    public int Order => 40;

    public void Register(IConfigurator app) => app.AddBranch("cluster", cluster =>
    {
        cluster.SetDescription("The cluster's state in a SQLite file or PostgreSQL schema. Read-only.");
        cluster.AddCommand<ClusterMembersCommand>("members")
            .WithDescription("The members: address, incarnation, status, roles, when they joined, how old their heartbeat is.")
            .WithExample("cluster", "members", "shop.db")
            .WithExample("cluster", "members", "--postgres", "\"Host=db;Database=shop;Username=app\"");
        cluster.AddCommand<ClusterLeasesCommand>("leases")
            .WithDescription("The leases (singletons run under them): holder, fencing token, expiry, whether held now.")
            .WithExample("cluster", "leases", "shop.db")
            .WithExample("cluster", "leases", "--postgres", "\"Host=db;Database=shop;Username=app\"");
    });
}

/// <summary><c>recall cluster leases</c>.</summary>
internal sealed class ClusterLeasesCommand(IAnsiConsole console) : AsyncCommand<StoreSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, StoreSettings settings, CancellationToken cancellationToken)
    {
        var (location, leases) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.LeasesAsync(ct)), cancellationToken);
        if (leases.Count == 0)
        {
            console.WriteLine($"no leases in {location}");
            return 0;
        }

        var now = DateTimeOffset.UtcNow;
        var table = new Table().AddColumns("lease", "holder", "fencing token", "expires (UTC)", "state");
        foreach (var lease in leases)
        {
            table.AddRow(
                Markup.Escape(lease.Name),
                Markup.Escape(lease.Holder),
                lease.FencingToken.ToString(CultureInfo.InvariantCulture),
                lease.ExpiresAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),
                lease.ExpiresAt > now ? "[green]held[/]" : "expired");
        }

        console.Write(table);
        return 0;
    }
}

/// <summary><c>recall cluster members</c>.</summary>
internal sealed class ClusterMembersCommand(IAnsiConsole console) : AsyncCommand<StoreSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, StoreSettings settings, CancellationToken cancellationToken)
    {
        var (location, members) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.MembersAsync(ct)), cancellationToken);
        if (members.Count == 0)
        {
            console.WriteLine($"no members in {location}");
            return 0;
        }

        var now = DateTimeOffset.UtcNow;
        var table = new Table().AddColumns("address", "incarnation", "status", "roles", "joined (UTC)", "heartbeat age");
        foreach (var member in members)
        {
            var status = member.Status.ToString();
            table.AddRow(
                Markup.Escape(member.Address),
                member.Incarnation.ToString(CultureInfo.InvariantCulture),
                member.Status switch
                {
                    Persistence.Membership.MemberStatus.Up => $"[green]{status}[/]",
                    Persistence.Membership.MemberStatus.Down => $"[red]{status}[/]",
                    _ => status,
                },
                Markup.Escape(string.Join(", ", member.Roles)),
                member.JoinedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                member.IsLive ? $"{Math.Max(0, (now - member.HeartbeatAt).TotalSeconds):0.0} s" : "-");
        }

        console.Write(table);
        return 0;
    }
}
