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
        cluster.AddCommand<ClusterShardsCommand>("shards")
            .WithDescription("Cluster sharding: each shard's home node, the entities it remembers, and shards per node.")
            .WithExample("cluster", "shards", "shop.db")
            .WithExample("cluster", "shards", "--postgres", "\"Host=db;Database=shop;Username=app\"");
    });
}

/// <summary><c>recall cluster leases</c>.</summary>
internal sealed class ClusterLeasesCommand(IAnsiConsole console) : AsyncCommand<ListingSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ListingSettings settings, CancellationToken cancellationToken)
    {
        var (location, leases) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.LeasesAsync(ct)), cancellationToken);
        if (leases.Count == 0)
        {
            if (!settings.Json)
            {
                console.WriteLine($"no leases in {location}");
            }

            return 0;
        }

        var now = DateTimeOffset.UtcNow;
        var listing = new Listing("lease", "holder", "fencing token", "expires (UTC)", "state");
        foreach (var lease in leases)
        {
            var held = lease.ExpiresAt > now;
            listing.Add(
                Cell.Text(lease.Name),
                Cell.Text(lease.Holder),
                Cell.Number(lease.FencingToken),
                Cell.Time(lease.ExpiresAt),
                new(held ? "[green]held[/]" : "expired", held ? "held" : "expired"));
        }

        listing.WriteTo(console, settings.Json);
        return 0;
    }
}

/// <summary><c>recall cluster members</c>.</summary>
internal sealed class ClusterMembersCommand(IAnsiConsole console) : AsyncCommand<ListingSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ListingSettings settings, CancellationToken cancellationToken)
    {
        var (location, members) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.MembersAsync(ct)), cancellationToken);
        if (members.Count == 0)
        {
            if (!settings.Json)
            {
                console.WriteLine($"no members in {location}");
            }

            return 0;
        }

        var now = DateTimeOffset.UtcNow;
        var listing = new Listing("address", "incarnation", "status", "roles", "joined (UTC)", "heartbeat age (s)");
        foreach (var member in members)
        {
            var status = member.Status.ToString();
            double? age = member.IsLive ? Math.Round(Math.Max(0, (now - member.HeartbeatAt).TotalSeconds), 1) : null;
            listing.Add(
                Cell.Text(member.Address),
                new(member.Incarnation.ToString(CultureInfo.InvariantCulture), member.Incarnation.ToString(CultureInfo.InvariantCulture)), // a string in JSON: it may exceed what a double holds exactly
                new(member.Status switch
                {
                    Persistence.Membership.MemberStatus.Up => $"[green]{status}[/]",
                    Persistence.Membership.MemberStatus.Down => $"[red]{status}[/]",
                    _ => status,
                }, status),
                new(Markup.Escape(string.Join(", ", member.Roles)), member.Roles),
                Cell.Time(member.JoinedAt),
                new(age is { } seconds ? seconds.ToString("0.0", CultureInfo.InvariantCulture) : "-", age));
        }

        listing.WriteTo(console, settings.Json);
        return 0;
    }
}

/// <summary><c>recall cluster shards</c>.</summary>
internal sealed class ClusterShardsCommand(IAnsiConsole console) : AsyncCommand<ListingSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ListingSettings settings, CancellationToken cancellationToken)
    {
        var (location, shards) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.ShardsAsync(ct)), cancellationToken);
        if (shards.Count == 0)
        {
            if (!settings.Json)
            {
                console.WriteLine($"no shards in {location}");
            }

            return 0;
        }

        var listing = new Listing("type", "shard", "home", "remembered entities");
        foreach (var shard in shards)
        {
            listing.Add(
                Cell.Text(shard.TypeName),
                Cell.Text(shard.ShardId),
                shard.Node is null ? new("[yellow]none[/]", null) : Cell.Text(shard.Node),
                Cell.Number(shard.RememberedEntities));
        }

        listing.WriteTo(console, settings.Json);
        if (settings.Json)
        {
            return 0; // the shards per node follow from the lines
        }

        var perNode = new Table().AddColumns("type", "home", "shards", "remembered entities");
        foreach (var group in shards.GroupBy(s => (s.TypeName, s.Node)))
        {
            perNode.AddRow(
                Markup.Escape(group.Key.TypeName),
                group.Key.Node is null ? "[yellow]none[/]" : Markup.Escape(group.Key.Node),
                group.Count().ToString(CultureInfo.InvariantCulture),
                group.Sum(s => s.RememberedEntities).ToString(CultureInfo.InvariantCulture));
        }

        console.Write(perNode);
        return 0;
    }
}
