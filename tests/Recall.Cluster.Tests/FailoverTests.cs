using System.Diagnostics;
using Recall.Actors;
using Recall.Cluster.TestNode;
using Recall.Persistence.Membership;
using Recall.Persistence.Sqlite;
using Xunit.Abstractions;

namespace Recall.Cluster.Tests;

/// <summary>Nodes in child processes sharing a SQLite file for members and leases: the singleton's node is killed with SIGKILL.</summary>
[Collection(Timing.Collection)]
public sealed class FailoverTests(ITestOutputHelper output) : IDisposable
{
    private const double Seconds = 3; // lease duration and DownAfter
    private readonly NodeProcesses _nodes = new(Seconds);
    private readonly string _folder = Directory.CreateTempSubdirectory("recall-failover-").FullName;

    [Fact]
    public async Task When_the_singletons_node_is_killed_it_is_marked_down_and_the_singleton_answers_from_another_node()
    {
        var file = Path.Combine(_folder, "cluster.db");
        var a = await _nodes.StartAsync("a", file);
        var store = new SqliteStoreOptions { Path = file };
        await using var leases = new SqliteLeaseStore(store);
        await using var members = new SqliteMembershipStore(store);
        await using var observer = ActorSystem.Create("observer", o => o.UseCluster(c =>
        {
            c.Listen("127.0.0.1", 0).UseLeaseStore(leases).UseMembershipStore(members);
            c.DownAfter = TimeSpan.FromSeconds(Seconds);
            c.HeartbeatInterval = TimeSpan.FromSeconds(Seconds / 5);
        }));
        await observer.Cluster().JoinAsync();
        var proxy = observer.Cluster().StartSingletonProxy("where");
        Assert.Equal(a.Address, await WhereAsync(proxy, TimeSpan.FromSeconds(30)));
        var b = await _nodes.StartAsync("b", file);

        var killed = Stopwatch.StartNew();
        a.Process.Kill(entireProcessTree: true);
        await a.Process.WaitForExitAsync();
        var now = await WhereAsync(proxy, TimeSpan.FromSeconds(30), notAt: a.Address);
        killed.Stop();

        Assert.Equal(b.Address, now);
        output.WriteLine($"failover after kill -9: {killed.Elapsed.TotalSeconds:0.00} s (lease and DownAfter {Seconds} s, retry 0.2 s)");
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(Seconds + 10), $"failover took {killed.Elapsed.TotalSeconds:0.0} s");
        await EventuallyAsync(() => observer.Cluster().Members.Any(m => m.Address.ToString() == a.Address && m.Status == MemberStatus.Down));
        Assert.Contains(observer.Cluster().Members, m => m.Address.ToString() == b.Address && m.Status == MemberStatus.Up);
        var lease = await leases.ReadAsync("singleton:where", default);
        Assert.Equal(2, lease!.FencingToken);
        Assert.StartsWith(b.Address, lease.Holder, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_paused_owner_that_wakes_after_a_new_one_took_over_writes_nothing()
    {
        // A long GC pause, a frozen VM: a's singleton is still "running". Rarely a process paused inside
        // SQLite's own locking stops every other writer of the file (a limit of SQLite shared by
        // processes, not of the cluster): then b's heartbeat stands still. Such a run is thrown away
        // and the scenario starts again on a fresh file (undoing the pause instead may leave a counted
        // out), so that the test is about the cluster.
        string file;
        Node a, b;
        for (var attempt = 0; ; attempt++)
        {
            Assert.True(attempt < 5, "every pause of a froze the SQLite file for the other processes");
            file = Path.Combine(_folder, $"cluster-{attempt}.db");
            a = await _nodes.StartAsync("a", file, mode: "ticker");
            var owner = a;
            await EventuallyAsync(() => Ticks(file).Count(t => t.Node == owner.Address) >= 5);
            b = await _nodes.StartAsync("b", file, mode: "ticker");
            var next = b;
            await EventuallyAsync(() => HasRenewed(file, next.Address)); // b runs its heartbeat rounds

            var before = HeartbeatOf(file, b.Address);
            Assert.True(await NodeProcesses.PauseOutsideWritesAsync(a.Process, file), "a exited before it was paused");
            // Half of DownAfter: b's heartbeat (every fifth of it) moves well within that unless the
            // file is frozen.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(Seconds / 2);
            while (HeartbeatOf(file, b.Address) == before && DateTime.UtcNow < until)
            {
                await Task.Delay(50);
            }

            if (HeartbeatOf(file, b.Address) != before)
            {
                break;
            }

            output.WriteLine($"pause {attempt + 1} of a froze the file for b; both nodes killed, starting again");
            foreach (var node in new[] { a, b })
            {
                node.Process.Kill(entireProcessTree: true);
                await node.Process.WaitForExitAsync();
            }
        }

        try
        {
            await EventuallyAsync(() => Ticks(file).Any(t => t.Node == b.Address));
        }
        catch (Exception)
        {
            // say what the store holds, to tell a stuck node from a slow one
            await using var members = new SqliteMembershipStore(new SqliteStoreOptions { Path = file });
            await using var leases = new SqliteLeaseStore(new SqliteStoreOptions { Path = file });
            throw new InvalidOperationException(
                $"b never wrote; at {DateTimeOffset.UtcNow:O} the store holds: {string.Join("; ", await members.ReadAllAsync(default))}; {string.Join("; ", await leases.ReadAllAsync(default))}; b exited: {b.Process.HasExited}");
        }
        NodeProcesses.Signal(a.Process, "CONT");

        // a wakes with its ticker due and its lease long expired: the journal refuses what it tries to
        // write and its lease deadline stops the singleton. If b marked it Down meanwhile it exits (3);
        // if its first heartbeat came first, it stays a member without the singleton. Either way it
        // stops acting as the owner.
        await EventuallyAsync(() => a.Process.HasExited || a.Lines.Any(l => l.StartsWith("@@TICKER stop", StringComparison.Ordinal)));
        Assert.True(!a.Process.HasExited || a.Process.ExitCode == 3, $"a exited with {(a.Process.HasExited ? a.Process.ExitCode : 0)}");
        var count = Ticks(file).Count;
        await EventuallyAsync(() => Ticks(file).Count >= count + 5); // b goes on
        // a first: were b to leave first, a (still a member) would rightly take the singleton over,
        // with a newer token, and write after b.
        foreach (var node in new[] { a, b }.Where(n => !n.Process.HasExited))
        {
            await node.Process.StandardInput.WriteLineAsync("quit");
            await node.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        var ticks = Ticks(file);
        Assert.Equal(Enumerable.Range(1, ticks.Count).Select(n => (long)n), ticks.Select(t => t.SequenceNumber));
        var takeover = ticks.FindIndex(t => t.Node == b.Address);
        Assert.True(takeover > 0, "a wrote first");
        Assert.All(ticks.Skip(takeover), t => Assert.Equal(b.Address, t.Node));
        output.WriteLine($"{takeover} events from a, then {ticks.Count - takeover} from b; a {(a.Process.ExitCode == 3 ? "was marked down and exited" : "stayed a member without the singleton")}");
    }

    [Fact]
    public async Task A_node_cut_off_from_the_other_nodes_but_not_from_the_database_keeps_the_only_singleton()
    {
        var file = Path.Combine(_folder, "cluster.db");
        var cut = await _nodes.StartAsync("cut", file, mode: "ticker", isolated: true);
        await EventuallyAsync(() => Ticks(file).Count(t => t.Node == cut.Address) >= 5);
        var a = await _nodes.StartAsync("a", file, mode: "ticker");
        var b = await _nodes.StartAsync("b", file, mode: "ticker");
        await using var leases = new SqliteLeaseStore(new SqliteStoreOptions { Path = file });

        // Longer than DownAfter and the lease: were the other nodes to vote on what they see, they would
        // count the cut node gone and start a second ticker. The database says it is alive: none starts.
        var sampled = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(3 * Seconds);
        while (DateTime.UtcNow < until)
        {
            Assert.StartsWith(cut.Address, (await leases.ReadAsync("singleton:ticker", default))!.Holder, StringComparison.Ordinal);
            sampled++;
            await Task.Delay(100);
        }

        Assert.False(a.StartedTicker || b.StartedTicker, "a node that cannot reach the cut node started a second ticker");
        Assert.All(Ticks(file), t => Assert.Equal(cut.Address, t.Node));
        await using (var members = new SqliteMembershipStore(new SqliteStoreOptions { Path = file }))
        {
            Assert.All(await members.ReadAllAsync(default), m => Assert.Equal(MemberStatus.Up, m.Status));
        }

        // Now it dies: the others take over, one of them, after the cut node's last event.
        cut.Process.Kill(entireProcessTree: true);
        await EventuallyAsync(() => Ticks(file).Any(t => t.Node != cut.Address));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var ticks = Ticks(file);
        var takeover = ticks.FindIndex(t => t.Node != cut.Address);
        Assert.Single(ticks.Skip(takeover).Select(t => t.Node).Distinct());
        Assert.Single(new[] { a, b }, n => n.StartedTicker);
        Assert.Equal(Enumerable.Range(1, ticks.Count).Select(n => (long)n), ticks.Select(t => t.SequenceNumber));
        output.WriteLine($"{sampled} samples of the lease while cut off: always the cut node; {takeover} events from it, then {ticks.Count - takeover} from its successor");
    }

    public void Dispose()
    {
        _nodes.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(50);
        }
    }


    private static async Task<string> WhereAsync(IActorRef proxy, TimeSpan within, string? notAt = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            try
            {
                var here = await proxy.Ask<HereNow>(new WhereNow(), TimeSpan.FromSeconds(1));
                if (here.Node != notAt)
                {
                    return here.Node;
                }
            }
            catch (Exception exception) when (exception is AskTimeoutException or AskFailedException && DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The singleton did not answer from another node than {notAt} within {within.TotalSeconds} s.");
            }

            await Task.Delay(50);
        }
    }

    private static long HeartbeatOf(string file, string address)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False;Default Timeout=1");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT heartbeat_at FROM cluster_members WHERE address = $address";
        command.Parameters.AddWithValue("$address", address);
        return command.ExecuteScalar() is long at ? at : 0;
    }

    private static bool HasRenewed(string file, string address)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT heartbeat_at - joined_at FROM cluster_members WHERE address = $address";
        command.Parameters.AddWithValue("$address", address);
        return command.ExecuteScalar() is long renewedAfter && renewedAfter >= TimeSpan.FromSeconds(Seconds / 5 * 2).TotalMilliseconds;
    }

    private static List<(long SequenceNumber, string Node)> Ticks(string file)
    {
        using var journal = new SqliteJournalInspector(file);
        return [.. journal.EventsAsync("ticker").GetAwaiter().GetResult().Select(e => (e.SequenceNumber, System.Text.Json.JsonDocument.Parse(e.Payload).RootElement.GetProperty("Node").GetString()!))];
    }

}
