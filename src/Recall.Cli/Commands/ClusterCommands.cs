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

/// <summary><c>recall cluster shards</c>.</summary>
internal sealed class ClusterShardsCommand(IAnsiConsole console) : AsyncCommand<StoreSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, StoreSettings settings, CancellationToken cancellationToken)
    {
        var (location, shards) = await JournalOutput.ReadAsync(console, settings, async (journal, ct) => (journal.Location, await journal.ShardsAsync(ct)), cancellationToken);
        if (shards.Count == 0)
        {
            console.WriteLine($"no shards in {location}");
            return 0;
        }

        var table = new Table().AddColumns("type", "shard", "home", "remembered entities");
        foreach (var shard in shards)
        {
            table.AddRow(
                Markup.Escape(shard.TypeName),
                Markup.Escape(shard.ShardId),
                shard.Node is null ? "[yellow]none[/]" : Markup.Escape(shard.Node),
                shard.RememberedEntities.ToString(CultureInfo.InvariantCulture));
        }

        console.Write(table);
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
