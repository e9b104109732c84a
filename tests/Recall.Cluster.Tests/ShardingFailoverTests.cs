using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Cluster.TestNode;
using Recall.Persistence.Leases;
using Recall.Persistence.Sqlite;
using Xunit.Abstractions;

namespace Recall.Cluster.Tests;

/// <summary>
/// Sharded accounts on nodes in child processes sharing one SQLite file (journal, members, leases,
/// shards), sent to from this process: nodes are killed with SIGKILL and paused with SIGSTOP.
/// </summary>
[Collection(Timing.Collection)]
public sealed class ShardingFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const double Seconds = 3; // lease duration and DownAfter of the nodes
    private readonly NodeProcesses _nodes = new(Seconds);
    private readonly string _folder = Directory.CreateTempSubdirectory("recall-sharding-").FullName;
    private SqliteLeaseStore? _leases;
    private SqliteMembershipStore? _members;
    private SqliteShardStore? _shards;
    private ActorSystem? _client;

    private string File => Path.Combine(_folder, "cluster.db");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.TerminateAsync();
        }

        _nodes.Dispose();
        foreach (var store in new IAsyncDisposable?[] { _leases, _members, _shards })
        {
            if (store is not null)
            {
                await store.DisposeAsync();
            }
        }

        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>This process as a member that only sends to the accounts.</summary>
    private async Task<IActorRef> ClientAsync()
    {
        var store = new SqliteStoreOptions { Path = File };
        _leases = new SqliteLeaseStore(store);
        _members = new SqliteMembershipStore(store);
        _shards = new SqliteShardStore(store);
        _client = ActorSystem.Create("client", o => o.UseCluster(c =>
        {
            c.Listen("127.0.0.1", 0).UseLeaseStore(_leases).UseMembershipStore(_members).UseShardStore(_shards);
            c.DownAfter = TimeSpan.FromSeconds(Seconds);
            c.HeartbeatInterval = TimeSpan.FromSeconds(Seconds / 5);
            c.Lease = new LeaseOptions { Duration = TimeSpan.FromSeconds(Seconds) };
        }));
        await _client.Cluster().JoinAsync();
        return _client.Sharding().StartProxy(Account.TypeName, new AccountExtractor());
    }

    /// <summary>Sends a deposit until it is acknowledged (the same command id each time: the account applies it once), or gives up at <paramref name="stop"/>.</summary>
    private static async Task<DepositAck?> DepositAsync(IActorRef accounts, string account, string commandId, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                return await accounts.Ask<DepositAck>(new Deposit(account, commandId, 1), TimeSpan.FromSeconds(2), stop);
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
            {
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return null;
    }

    /// <summary>What the journal holds of an account: its events in order, with the command and the writer.</summary>
    private static List<(long SequenceNumber, string CommandId, string Writer, long Token)> Events(SqliteJournalInspector journal, string account) =>
        [.. journal.EventsAsync("account|" + account).GetAwaiter().GetResult().Select(e =>
        {
            var json = System.Text.Json.JsonDocument.Parse(e.Payload).RootElement;
            return (e.SequenceNumber, json.GetProperty("CommandId").GetString()!, json.GetProperty("Writer").GetString()!, json.GetProperty("Token").GetInt64());
        })];

    /// <summary>Every acknowledged command is stored; every journal is contiguous, applies each command once, and is written by one home at a time in token order.</summary>
    private void AssertJournals(List<string> accounts, IReadOnlyDictionary<string, List<string>> acknowledged)
    {
        using var journal = new SqliteJournalInspector(File);
        var events = 0;
        foreach (var account in accounts)
        {
            var stored = Events(journal, account);
            events += stored.Count;
            Assert.Equal(Enumerable.Range(1, stored.Count).Select(n => (long)n), stored.Select(e => e.SequenceNumber));
            Assert.Equal(stored.Count, stored.Select(e => e.CommandId).Distinct().Count());
            var commands = stored.Select(e => e.CommandId).ToHashSet();
            foreach (var command in acknowledged.GetValueOrDefault(account) ?? [])
            {
                Assert.True(commands.Contains(command), $"acknowledged command {command} of {account} is not in its journal");
            }

            // A home is a holding of the shard's lease: its token only grows. One home's events all
            // come from one writer, and none comes from an older home once a newer one has written.
            for (var i = 1; i < stored.Count; i++)
            {
                Assert.True(stored[i].Token >= stored[i - 1].Token, $"{account}: event {stored[i].SequenceNumber} was written with token {stored[i].Token} by {stored[i].Writer} after token {stored[i - 1].Token} had written");
            }

            foreach (var home in stored.GroupBy(e => e.Token))
            {
                Assert.Single(home.Select(e => e.Writer).Distinct());
            }

            Assert.All(stored, e => Assert.True(e.Token > 0, $"{account}: event {e.SequenceNumber} was written without a fencing token"));
        }

        output.WriteLine($"{accounts.Count} journals, {events} events: contiguous, each command once, fenced, no home after its successor");
    }

    [Fact]
    public async Task When_a_node_is_killed_its_accounts_answer_from_the_others_with_their_history()
    {
        var nodes = new List<Node>();
        foreach (var name in new[] { "a", "b", "c" })
        {
            nodes.Add(await _nodes.StartAsync(name, File, "shards"));
        }

        var accounts = await ClientAsync();
        var ids = Enumerable.Range(0, 60).Select(i => "acct" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var acknowledged = ids.ToDictionary(id => id, _ => new List<string>());
        var homes = new Dictionary<string, string>();
        using var timeout = new CancellationTokenSource(Wait.Timeout * 2);

        // Until the shards spread over the three nodes (they move there by rebalance).
        for (var round = 0; homes.Values.Distinct().Count() < 3; round++)
        {
            Assert.False(timeout.IsCancellationRequested, "the accounts did not spread over the three nodes");
            foreach (var ack in await Task.WhenAll(ids.Select(id => DepositAsync(accounts, id, $"{id}-{round}", timeout.Token))))
            {
                acknowledged[ack!.Account].Add(ack.CommandId);
                homes[ack.Account] = ack.Node;
            }
        }

        var victim = nodes[0];
        var onVictim = homes.Where(h => h.Value == victim.Address).Select(h => h.Key).ToList();
        var killed = Stopwatch.StartNew();
        victim.Process.Kill(entireProcessTree: true);
        await victim.Process.WaitForExitAsync();
        var answers = await Task.WhenAll(onVictim.Select(async id =>
        {
            var ack = await DepositAsync(accounts, id, id + "-after", timeout.Token);
            return (Ack: ack!, At: killed.Elapsed);
        }));

        Assert.All(answers, a => Assert.NotEqual(victim.Address, a.Ack.Node));
        Assert.All(answers, a => Assert.Equal(acknowledged[a.Ack.Account].Count + 1, a.Ack.Balance)); // recovered its history
        foreach (var (ack, _) in answers)
        {
            acknowledged[ack.Account].Add(ack.CommandId);
        }

        var times = answers.Select(a => a.At.TotalSeconds).Order().ToList();
        output.WriteLine($"{onVictim.Count} accounts on the killed node answered elsewhere after {times[0]:0.00}-{times[^1]:0.00} s (median {times[times.Count / 2]:0.00} s; DownAfter and leases {Seconds} s)");
        AssertJournals(ids, acknowledged);
    }

    [Fact]
    public async Task Under_random_kills_and_pauses_every_acknowledged_deposit_is_stored_once_by_one_home_at_a_time()
    {
        var duration = TimeSpan.FromSeconds(double.Parse(Environment.GetEnvironmentVariable("RECALL_CHAOS_SECONDS") ?? "120", CultureInfo.InvariantCulture));
        var names = new[] { "a", "b", "c" };
        var ports = names.Select(_ => NodeProcesses.FreePort()).ToArray();
        var nodes = new Node[3];
        for (var i = 0; i < 3; i++)
        {
            nodes[i] = await _nodes.StartAsync(names[i], File, "shards", port: ports[i]);
        }

        var accounts = await ClientAsync();
        var ids = Enumerable.Range(0, 1000).Select(i => "acct" + i.ToString(CultureInfo.InvariantCulture)).ToList();
        var acknowledged = new ConcurrentDictionary<string, List<string>>();
        using var stop = new CancellationTokenSource();
        var sent = 0;
        var clients = Enumerable.Range(0, 32).Select(worker => Task.Run(async () =>
        {
            var random = new Random(1000 + worker);
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var id = ids[random.Next(ids.Count)];
                var ack = await DepositAsync(accounts, id, $"w{worker}-{n}", stop.Token);
                Interlocked.Increment(ref sent);
                if (ack is not null)
                {
                    var list = acknowledged.GetOrAdd(id, _ => []);
                    lock (list)
                    {
                        list.Add(ack.CommandId);
                    }
                }
            }
        })).ToList();

        var chaos = new Random(7);
        var watch = Stopwatch.StartNew();
        var (kills, pauses) = (0, 0);
        while (watch.Elapsed < duration)
        {
            await Task.Delay(TimeSpan.FromSeconds(6 + (chaos.NextDouble() * 6)));
            for (var n = 0; n < 3; n++)
            {
                if (nodes[n].Process.HasExited)
                {
                    // Counted itself out (a heartbeat it could not renew in time on a loaded machine): correct, and it comes back.
                    output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: {names[n]} had exited by itself ({nodes[n].Process.ExitCode}); started again");
                    nodes[n] = await _nodes.StartAsync(names[n], File, "shards", port: ports[n]);
                }
            }

            var i = chaos.Next(3);
            if (chaos.Next(2) == 0)
            {
                kills++;
                nodes[i].Process.Kill(entireProcessTree: true);
                await nodes[i].Process.WaitForExitAsync();
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: kill -9 {names[i]}");
                await Task.Delay(TimeSpan.FromSeconds(1 + (chaos.NextDouble() * 2)));
            }
            else
            {
                pauses++;
                if (await NodeProcesses.PauseOutsideWritesAsync(nodes[i].Process, File))
                {
                    output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: SIGSTOP {names[i]}");
                    await Task.Delay(TimeSpan.FromSeconds(Seconds + 1 + (chaos.NextDouble() * 2)));
                    NodeProcesses.Signal(nodes[i].Process, "CONT");
                }

                // Counted out while it slept: it finds out at once and exits.
                await Task.WhenAny(nodes[i].Process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(Seconds * 2)));
            }

            if (nodes[i].Process.HasExited)
            {
                nodes[i] = await _nodes.StartAsync(names[i], File, "shards", port: ports[i]);
                output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0} s: {names[i]} started again");
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(Seconds * 2)); // a last quiet stretch: every account answers again
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        var acks = acknowledged.Values.Sum(l => l.Count);
        output.WriteLine($"{duration.TotalSeconds:0} s, {kills} kills, {pauses} pauses: {acks} of {sent} deposits acknowledged");
        Assert.True(acks > 1000, $"only {acks} deposits were acknowledged");
        AssertJournals(ids, acknowledged.ToDictionary(p => p.Key, p => p.Value));
    }
}
