using System.Globalization;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.Sharding;
using Recall.Cluster.TestNode;
using Recall.Persistence;
using Recall.Persistence.Leases;
using Recall.Persistence.Sqlite;

// A cluster node in its own process, for tests that kill it:
//   Recall.Cluster.TestNode <system name> <port> <sqlite file> <seconds> [ticker|shards]
// It joins the cluster (members, leases, shards and journal in the SQLite file; leases and
// DownAfter of <seconds>), takes part in the singleton "where" (with "ticker" in the persistent
// singleton "ticker"; with "shards" it hosts the sharded "account" entities), prints
// "@@READY <address>", and leaves on "quit" or end of input. It exits with 3 when its system
// terminated by itself (the cluster counted it out).
if (args.Length is < 4 or > 5 || (args.Length == 5 && args[4] is not ("ticker" or "shards")) || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
    || !double.TryParse(args[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
{
    Console.Error.WriteLine("usage: Recall.Cluster.TestNode <system name> <port> <sqlite file> <seconds> [ticker|shards]");
    return 2;
}

var store = new SqliteStoreOptions { Path = args[2] };
await using var leases = new SqliteLeaseStore(store);
await using var members = new SqliteMembershipStore(store);
await using var shards = new SqliteShardStore(store);
await using var system = ActorSystem.Create(args[0], o => o.UsePersistence(p => p.UseSqlite(args[2]).Events.RegisterAssemblyOf<Ticked>()).UseCluster(c =>
{
    c.Listen("127.0.0.1", port).UseLeaseStore(leases).UseMembershipStore(members).UseShardStore(shards);
    c.Lease = new LeaseOptions { Duration = TimeSpan.FromSeconds(seconds) };
    c.DownAfter = TimeSpan.FromSeconds(seconds);
    c.HeartbeatInterval = TimeSpan.FromSeconds(seconds / 5);
    c.SingletonRetryInterval = TimeSpan.FromMilliseconds(200);
}));
await system.Cluster().JoinAsync();
system.Cluster().StartSingleton("where", Props.Create(() => new WhereSingleton()));
if (args.Length == 5 && args[4] == "ticker")
{
    system.Cluster().StartSingleton("ticker", Props.Create(() => new TickerSingleton()));
}

if (args.Length == 5 && args[4] == "shards")
{
    var writer = $"{system.Address}#{system.Cluster().SelfMember!.Incarnation}";
    system.Sharding().Start(Account.TypeName, id => Props.Create(() => new Account(id, writer)), new AccountExtractor());
}

Console.WriteLine($"@@READY {system.Address}");
var input = Task.Run(() =>
{
    while (Console.ReadLine() is { } line && line != "quit")
    {
    }
});
if (await Task.WhenAny(input, system.WhenTerminated) != input)
{
    return 3;
}

await system.Cluster().LeaveAsync();
return 0;
