using System.Globalization;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.Sharding;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Serialization;
using Recall.Persistence.Sqlite;

namespace Recall.Benchmarks.Workloads.Cluster;

[EventType("bench.failover.where")]
internal sealed record WhereNow;

[EventType("bench.failover.here")]
internal sealed record HereNow(string Node);

/// <summary>The singleton of the cluster workloads: says which node it runs on.</summary>
internal sealed class ProbeSingleton : Actor
{
    protected override void Receive(object message)
    {
        if (message is WhereNow)
        {
            Sender.Tell(new HereNow(Context.System.Address.ToString()), Self);
        }
    }
}

/// <summary>
/// Where a cluster workload keeps members, leases, shard homes and its nodes' journals: a SQLite
/// file (store <c>sqlite</c>: everything in it), a PostgreSQL schema (<c>postgres</c>), or a SQLite
/// file for the cluster and each node's own memory for its journal (<c>memory</c>).
/// </summary>
internal sealed record ClusterStore(string Store, string Target, string? Schema)
{
    public IEnumerable<string> Arguments() =>
        Schema is null ? ["--store", Store, "--target", Target] : ["--store", Store, "--target", Target, "--schema", Schema];

    /// <summary>Makes <paramref name="cluster"/> use this store with the cluster's default timing; returns what to dispose after the system.</summary>
    public IAsyncDisposable[] Use(ClusterOptions cluster)
    {
        if (Store == "postgres")
        {
            var options = new PostgreSqlStoreOptions { ConnectionString = Target, Schema = Schema! };
            var members = new PostgreSqlMembershipStore(options);
            var leases = new PostgreSqlLeaseStore(options);
            var shards = new PostgreSqlShardStore(options);
            cluster.UseMembershipStore(members).UseLeaseStore(leases).UseShardStore(shards);
            return [members, leases, shards];
        }

        var file = new SqliteStoreOptions { Path = Target };
        var sqliteMembers = new SqliteMembershipStore(file);
        var sqliteLeases = new SqliteLeaseStore(file);
        var sqliteShards = new SqliteShardStore(file);
        cluster.UseMembershipStore(sqliteMembers).UseLeaseStore(sqliteLeases).UseShardStore(sqliteShards);
        return [sqliteMembers, sqliteLeases, sqliteShards];
    }

    /// <summary>The journal of a node.</summary>
    public void UseJournal(PersistenceOptions persistence)
    {
        switch (Store)
        {
            case "postgres":
                persistence.UsePostgreSql(o =>
                {
                    // Four processes must fit a server's default max_connections (100): 12 for each
                    // node's journal, 4 for each of the cluster's stores.
                    o.ConnectionString = Target;
                    o.Schema = Schema!;
                    o.MaxReadConnections = 8;
                    o.MaxWriteConnections = 4;
                });
                break;
            case "sqlite":
                persistence.UseSqlite(Target);
                break;
            default:
                persistence.UseInMemory();
                break;
        }
    }
}

/// <summary>
/// A node of the cluster workloads: this program started by the driver as <c>dotnet
/// Recall.Benchmarks.dll --role cluster-node --port P --store memory|sqlite|postgres --target FILE|CONNSTR
/// [--schema S] [--shards N]</c>. It joins the cluster with the default timing (heartbeat 1 s, DownAfter 5 s,
/// 5 s leases, singleton retry 1 s), takes part in the singleton <c>probe</c>, hosts the sharded
/// <see cref="ShardCounter"/> entities, prints
/// <c>@@READY &lt;address&gt;</c> and leaves on <c>quit</c> or end of input.
/// </summary>
internal static class ClusterNode
{
    public const string Ready = "@@READY";

    public static bool IsRequested(string[] args) => args.Length >= 2 && args[0] == "--role" && args[1] == "cluster-node";

    public static async Task<int> RunAsync(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 2; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        if (args.Length % 2 != 0 || !values.TryGetValue("--port", out var portText) || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !values.TryGetValue("--store", out var store) || store is not ("memory" or "sqlite" or "postgres") || !values.TryGetValue("--target", out var target))
        {
            Console.Error.WriteLine("usage: --role cluster-node --port P --store memory|sqlite|postgres --target FILE|CONNSTR [--schema S]");
            return 2;
        }

        var where = new ClusterStore(store, target, values.GetValueOrDefault("--schema"));
        IAsyncDisposable[] stores = [];
        var system = ActorSystem.Create("bench", o =>
        {
            // Warnings and errors to stderr, which the driver shows after the run.
            // RECALL_BENCH_NODE_LOG_LEVEL (e.g. Debug) shows more, to find out why a run failed.
            var level = Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("RECALL_BENCH_NODE_LOG_LEVEL"), out var chosen) ? chosen : LogLevel.Warning;
            o.LoggerFactory = LoggerFactory.Create(b => b.AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(level));
            o.UsePersistence(where.UseJournal).UseCluster(c => stores = where.Use(c.Listen("127.0.0.1", port)));
        });
        try
        {
            await system.Cluster().JoinAsync();
            system.Cluster().StartSingleton("probe", Props.Create(() => new ProbeSingleton()));
            var shards = values.TryGetValue("--shards", out var shardsText) ? int.Parse(shardsText, CultureInfo.InvariantCulture) : ShardCounterExtractor.DefaultShards;
            system.Sharding().Start(ShardCounter.TypeName, id => Props.Create(() => new ShardCounter(id)), new ShardCounterExtractor(shards));
            Console.Out.WriteLine($"{Ready} {system.Address}");
            Console.Out.Flush();
            var input = Task.Run(() =>
            {
                while (Console.In.ReadLine() is { } line && line != "quit")
                {
                }
            });
            await Task.WhenAny(input, system.WhenTerminated);
            await system.Cluster().LeaveAsync();
            return 0;
        }
        finally
        {
            await system.TerminateAsync();
            foreach (var disposable in stores)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}

[EventType("bench.sharding.bump")]
internal sealed record Bump(string Entity);

[EventType("bench.sharding.bumped")]
internal sealed record Bumped(string Entity, string Node, long Count);

/// <summary>The sharded entities' extractor: 100 shards unless the workload says otherwise.</summary>
internal sealed class ShardCounterExtractor(int shards = ShardCounterExtractor.DefaultShards) : HashCodeMessageExtractor(shards)
{
    public const int DefaultShards = 100;

    public override string? EntityId(object message) => (message as Bump)?.Entity;
}

/// <summary>The sharded entity of the cluster workloads: each bump persists one event, then answers with the count and the node.</summary>
internal sealed class ShardCounter(string id) : PersistentActor
{
    public const string TypeName = "bench-counter";
    private long _count;

    public override string PersistenceId => "bench-counter|" + id;

    protected override void ReceiveCommand(object command)
    {
        if (command is Bump)
        {
            Persist(1, _ =>
            {
                _count++;
                Sender.Tell(new Bumped(id, Context.System.Address.ToString(), _count), Self);
            });
        }
    }

    protected override void ReceiveRecover(object message) => _count++;
}
