using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Projections;

namespace Recall.Cluster.Dashboard;

/// <summary>
/// The dashboard of a node: members, leases and shard homes from the cluster's stores (as every node
/// sees them), entities per shard asked from each member's region, and this node's projections and
/// dead letters. Actions: this node leaves; a projection running here pauses or resumes.
/// </summary>
internal sealed class ClusterDashboardSource(ClusterExtension cluster) : IDashboardSource
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    public string Name => cluster.System.Address.ToString();

    public bool CanAct => true;

    public async Task<DashboardState> ReadAsync(CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var now = cluster.System.TimeProvider.GetUtcNow();
        var members = await ReadPartAsync("members", problems, async () =>
            (await cluster.Options.Membership!.ReadAllAsync(cancellationToken)).Select(m => DashboardMember.From(m, now, Name)).ToList());
        var leases = await ReadPartAsync("leases", problems, async () =>
            (await cluster.Leases.ReadAllAsync(cancellationToken)).Select(l => DashboardLease.From(l, now)).ToList());
        var shards = await ReadPartAsync("shards", problems, () => ReadShardsAsync(members, cancellationToken));
        var projections = await ReadPartAsync("projections", problems, ReadProjections);
        return new DashboardState(Name, now, members, shards, leases, projections, cluster.System.DeadLetterCount, false, problems);
    }

    public async Task<string> ActAsync(DashboardAction action, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(action);
        switch (action.Kind)
        {
            case "leave":
                // Answered first: leaving stops this server too.
                _ = Task.Run(cluster.LeaveAsync, CancellationToken.None);
                return $"{Name} leaves the cluster: its shards and singletons move to the other members.";
            case "pause" or "resume":
                var handle = Projection(action);
                await (action.Kind == "pause" ? handle.PauseAsync(cancellationToken) : handle.ResumeAsync(cancellationToken));
                return $"projection {handle.Id} {(action.Kind == "pause" ? "paused" : "resumed")} on {Name}";
            default:
                throw new ArgumentException($"Unknown dashboard action '{action.Kind}': leave, pause or resume.");
        }
    }

    private ProjectionHandle Projection(DashboardAction action)
    {
        if (string.IsNullOrEmpty(action.Name) || string.IsNullOrEmpty(action.Key))
        {
            throw new ArgumentException($"The action '{action.Kind}' needs the projection's name and key (?name=...&key=...).");
        }

        return cluster.System.TryGetExtension<ProjectionRegistry>()?.Find(action.Name, action.Key)
            ?? throw new ArgumentException($"No projection '{action.Name}' ({action.Key}) runs on {Name}.");
    }

    private async Task<List<DashboardShard>> ReadShardsAsync(IReadOnlyList<DashboardMember> members, CancellationToken cancellationToken)
    {
        if (cluster.Options.Shards is not { } store)
        {
            return [];
        }

        var homes = (await store.ReadHomesAsync(null, cancellationToken)).ToDictionary(h => (h.TypeName, h.ShardId), h => h.Node);
        var remembered = (await store.CountEntitiesAsync(null, cancellationToken)).ToDictionary(c => (c.TypeName, c.ShardId), c => c.Entities);
        var running = await RunningEntitiesAsync(members);
        return
        [
            .. homes.Keys.Union(remembered.Keys)
                .OrderBy(k => k.TypeName, StringComparer.Ordinal).ThenBy(k => k.ShardId.Length).ThenBy(k => k.ShardId, StringComparer.Ordinal)
                .Select(k =>
                {
                    var node = homes.GetValueOrDefault(k);
                    int? entities = node is not null && running.TryGetValue((k.TypeName, node), out var perShard) ? perShard.GetValueOrDefault(k.ShardId) : null;
                    return new DashboardShard(k.TypeName, k.ShardId, node, entities, remembered.GetValueOrDefault(k));
                }),
        ];
    }

    /// <summary>Asks the region of each entity type started here on every live member for its shards' entities; a member that does not answer is left out.</summary>
    private async Task<Dictionary<(string Type, string Node), IReadOnlyDictionary<string, int>>> RunningEntitiesAsync(IReadOnlyList<DashboardMember> members)
    {
        var asks = new List<Task<((string, string) Key, IReadOnlyDictionary<string, int>? Entities)>>();
        foreach (var type in cluster.System.Sharding().TypeNames)
        {
            foreach (var member in members.Where(m => m.Status is "Up" or "Leaving").Select(m => m.Address).Distinct(StringComparer.Ordinal))
            {
                asks.Add(AskRegionAsync(type, member));
            }
        }

        var answers = await Task.WhenAll(asks);
        return answers.Where(a => a.Entities is not null).ToDictionary(a => a.Key, a => a.Entities!);
    }

    private async Task<((string, string) Key, IReadOnlyDictionary<string, int>? Entities)> AskRegionAsync(string type, string address)
    {
        try
        {
            var path = ActorPath.Root(ActorPath.Parse(address).Address).Child("system").Child(ShardingExtension.RegionName(type));
            var region = await cluster.System.ResolveAsync(path, AskTimeout);
            var answer = await region.Ask<ShardEntities>(new GetShardEntities(), AskTimeout);
            return ((type, address), answer.Entities);
        }
        catch (Exception exception) when (exception is ActorNotFoundException or AskTimeoutException or AskFailedException or FormatException)
        {
            return ((type, address), null); // a proxy-only member, or one that is going: its shards show no count
        }
    }

    private List<DashboardProjection> ReadProjections() =>
        cluster.System.TryGetExtension<ProjectionRegistry>() is { } registry
            ? [.. registry.Running.Select(h => h.Status).Select(s => new DashboardProjection(
                s.Id.Name, s.Id.Key, s.State.ToString(), s.Offset.ToString(), s.Lag?.Events, s.Lag is { } lag ? Math.Round(lag.Time.TotalSeconds, 1) : null, s.LastError, true))]
            : [];

    private static async Task<T> ReadPartAsync<T>(string part, List<string> problems, Func<Task<T>> read)
        where T : new()
    {
        try
        {
            return await read();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            problems.Add($"{part}: {exception.GetBaseException().Message}");
            return new T();
        }
    }

    private static Task<T> ReadPartAsync<T>(string part, List<string> problems, Func<T> read)
        where T : new() => ReadPartAsync(part, problems, () => Task.FromResult(read()));
}
