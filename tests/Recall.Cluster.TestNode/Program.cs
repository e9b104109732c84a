using System.Globalization;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.TestNode;
using Recall.Persistence.Leases;
using Recall.Persistence.Sqlite;

// A cluster node in its own process, for tests that kill it:
//   Recall.Cluster.TestNode <system name> <port> <sqlite file> <lease seconds>
// It takes part in the singleton "where" (leases in the SQLite file), prints "@@READY <address>",
// and stops on "quit" or end of input.
if (args.Length != 4 || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
    || !double.TryParse(args[3], NumberStyles.Float, CultureInfo.InvariantCulture, out var leaseSeconds))
{
    Console.Error.WriteLine("usage: Recall.Cluster.TestNode <system name> <port> <sqlite file> <lease seconds>");
    return 2;
}

await using var leases = new SqliteLeaseStore(new SqliteStoreOptions { Path = args[2] });
await using var system = ActorSystem.Create(args[0], o => o.UseCluster(c =>
{
    c.Listen("127.0.0.1", port).UseLeaseStore(leases);
    c.Lease = new LeaseOptions { Duration = TimeSpan.FromSeconds(leaseSeconds) };
    c.SingletonRetryInterval = TimeSpan.FromMilliseconds(200);
}));
system.Cluster().StartSingleton("where", Props.Create(() => new WhereSingleton()));
Console.WriteLine($"@@READY {system.Address}");
while (Console.ReadLine() is { } line && line != "quit")
{
}

return 0;
