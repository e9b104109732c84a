using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.Sharding;
using Recall.Persistence;

namespace Recall.Cli.Demo;

/// <summary>
/// One node process of <c>recall demo cluster</c> (<c>recall demo cluster --node --port P</c> with the
/// demo's store): joins the cluster with the default timing, hosts the sharded <see cref="ClusterWallet"/>s,
/// prints <c>@@READY address</c>, and leaves gracefully on <c>quit</c> or the end of its input.
/// Warnings and errors go to standard error.
/// </summary>
internal static class ClusterDemoNode
{
    /// <summary>The line a node prints when it is a member and hosts wallets.</summary>
    public const string Ready = "@@READY";

    public static async Task<int> RunAsync(DemoStore store, int port)
    {
        ClusterStores? stores = null;
        var system = ActorSystem.Create("demo", o =>
        {
            o.LoggerFactory = LoggerFactory.Create(b => b.AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("RECALL_DEMO_LOG_LEVEL"), out var level) ? level : LogLevel.Warning));
            o.UsePersistence(p => store.Use(p).Events.RegisterAssemblyOf<ClusterWallet>())
                .UseCluster(c => stores = store.UseCluster(c.Listen("127.0.0.1", port)));
        });
        try
        {
            await system.Cluster().JoinAsync();
            system.Sharding().Start(ClusterWallet.TypeName, id => Props.Create(() => new ClusterWallet(id)), new ClusterWalletExtractor());
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
            if (stores is not null)
            {
                await stores.DisposeAsync();
            }
        }
    }
}
