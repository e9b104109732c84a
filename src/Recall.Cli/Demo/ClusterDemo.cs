using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Cluster;
using Recall.Cluster.Sharding;
using Recall.Diagnostics;
using Recall.Persistence;
using Recall.Persistence.Membership;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Recall.Cli.Demo;

/// <summary>
/// <c>recall demo cluster</c>: three node processes on loopback share one store (a SQLite file by
/// default) for their journal, members, leases and shard homes. This process joins as a client
/// member and sends numbered commands to sharded wallets; one node is killed with SIGKILL, its
/// shards move and its wallets recover on the survivors; it is started again and the shards
/// rebalance; at the end every balance is checked against the commands acknowledged.
/// </summary>
internal sealed class ClusterDemo : IAsyncDisposable
{
    private const int NodeCount = 3;
    private const int WalletCount = 60;
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(45);

    private readonly DemoStore _store;
    private readonly IAnsiConsole _console;
    private readonly bool _live;
    private readonly List<DemoNode> _nodes = [];
    private readonly WalletState[] _wallets = [.. Enumerable.Range(1, WalletCount).Select(i => new WalletState($"w{i:00}"))];
    private readonly ConcurrentQueue<string> _recent = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stopTraffic = new();
    private ActorSystem? _client;
    private ClusterStores? _clientStores;
    private Snapshot _snapshot = new([], []);
    private string _phase = "starting";
    private long _acknowledged;
    private long _retries;
    private Table? _checkTable;
    private bool _left;
    private readonly TextWriter _log;
    private readonly int? _dashboard;

    private ClusterDemo(DemoStore store, IAnsiConsole console, string log, int? dashboard)
    {
        _dashboard = dashboard;
        _log = TextWriter.Synchronized(new StreamWriter(log, append: false) { AutoFlush = true });
        _store = store;
        _console = console;
        _live = console.Profile.Capabilities.Interactive;
    }

    /// <summary>Runs the demo; 0 when every balance matched the acknowledged commands.</summary>
    /// <param name="store">Where the cluster keeps everything.</param>
    /// <param name="console">Where the progress goes.</param>
    /// <param name="log">The file for the nodes' warnings and errors (replaced).</param>
    /// <param name="dashboard">The port of the dashboard the client serves, or null for none.</param>
    /// <param name="cancellationToken">Stops the demo.</param>
    public static async Task<int> RunAsync(DemoStore store, IAnsiConsole console, string log, int? dashboard, CancellationToken cancellationToken)
    {
        console.Write(new Rule($"[bold]Recall cluster demo[/]: {NodeCount} nodes, sharded wallets on {store.Name}").LeftJustified());
        console.MarkupLine($"store: [blue]{Markup.Escape(store.Location)}[/] (journal, members, leases and shard homes; replaced on every run)");
        console.WriteLine();
        if (await store.ResetAsync() is { } problem)
        {
            throw new CliException(problem);
        }

        console.MarkupLine($"node warnings and errors: [blue]{Markup.Escape(log)}[/]");
        await using var demo = new ClusterDemo(store, console, log, dashboard);
        var result = demo._live ? await demo.RunLiveAsync(cancellationToken) : await demo.RunPhasesAsync(cancellationToken);
        if (dashboard is not null && demo._live)
        {
            console.MarkupLine($"the dashboard stays at [blue]{demo._client?.Cluster().DashboardAddress}[/]: press Enter to stop the cluster");
            await Task.Run(Console.ReadLine, cancellationToken);
        }

        var clock = Stopwatch.StartNew();
        var killed = await demo.LeaveAsync();
        console.MarkupLine(killed == 0
            ? $"the client and the nodes left the cluster gracefully in {clock.Elapsed.TotalSeconds:0.0} s"
            : $"[yellow]{killed} node(s) did not leave within 20 s and were killed[/]");
        demo.PrintVerdict(result);
        return result;
    }

    private async Task<int> RunLiveAsync(CancellationToken cancellationToken)
    {
        var result = 1;
        await _console.Live(Render()).AutoClear(false).StartAsync(async context =>
        {
            var phases = RunPhasesAsync(cancellationToken);
            while (!phases.IsCompleted)
            {
                await RefreshAsync();
                context.UpdateTarget(Render());
                await Task.WhenAny(phases, Task.Delay(250, CancellationToken.None));
            }

            context.UpdateTarget(Render());
            result = await phases;
        });
        return result;
    }

    private async Task<int> RunPhasesAsync(CancellationToken cancellationToken)
    {
        Say($"starting {NodeCount} node processes (each: a member, its shards, its wallets' journal)");
        await Task.WhenAll(Enumerable.Range(1, NodeCount).Select(i => StartNodeAsync(new DemoNode($"node-{i}", FreePort()))));
        _client = ActorSystem.Create("demo", o =>
        {
            // Its warnings (a node it talks to was killed) go to the log beside the nodes', not across the live display.
            o.LoggerFactory = new TextLoggerFactory(LogLevel.Warning, _log);
            o.UsePersistence(p => _store.Use(p).Events.RegisterAssemblyOf<ClusterWallet>())
                .UseCluster(c =>
                {
                    _clientStores = _store.UseCluster(c.Listen("127.0.0.1", 0));
                    if (_dashboard is { } port)
                    {
                        c.UseDashboard(port);
                    }
                });
        });
        await _client.Cluster().JoinAsync(cancellationToken);
        var region = _client.Sharding().StartProxy(ClusterWallet.TypeName, new ClusterWalletExtractor());
        Say($"this process joined as a client ({_client.Address}); it hosts no shards");
        if (_client.Cluster().DashboardAddress is { } page)
        {
            Say($"the dashboard: [blue]{page}[/]");
        }

        _phase = "commands flow";
        Say($"{WalletCount} wallets take numbered commands: one at a time each, sent again until acknowledged (a wallet applies each number once)");
        var traffic = _wallets.Select(w => RunWalletAsync(region, w, _stopTraffic.Token)).ToArray();
        await WaitAsync("every wallet acknowledged a command", () => _wallets.All(w => w.Acknowledged > 0), cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        await RefreshAsync();

        // Kill the node that holds the most shards, so that the most wallets must move.
        var victim = _nodes.MaxBy(n => _snapshot.ShardsOn(n.Address))!;
        var lived = _wallets.Where(w => w.Node == victim.Address).ToList();
        var shards = _snapshot.ShardsOn(victim.Address);
        _phase = $"{victim.Name} killed";
        var killedAt = _clock.Elapsed;
        victim.Process!.Kill(entireProcessTree: true);
        await victim.Process.WaitForExitAsync(cancellationToken);
        Say($"[red]killed {victim.Name} (pid {victim.Process.Id}) with SIGKILL[/]: it ran {shards} shards and {lived.Count} wallets");
        foreach (var wallet in lived)
        {
            wallet.WaitingSince = killedAt;
        }

        await WaitAsync($"{victim.Name} marked Down", () => _snapshot.StatusOf(victim.Address) == MemberStatus.Down, cancellationToken);
        Say($"{victim.Name} is Down after {Since(killedAt)} (its heartbeat stopped; any member marks it Down after DownAfter, 5 s)");
        await WaitAsync($"{victim.Name}'s shards have new homes", () => _snapshot.ShardsOn(victim.Address) == 0, cancellationToken);
        Say($"its shards have new homes on the survivors after {Since(killedAt)}: {string.Join(", ", _nodes.Where(n => n != victim).Select(n => $"{n.Name} {_snapshot.ShardsOn(n.Address)}"))}");
        await WaitAsync($"{victim.Name}'s wallets answer again", () => lived.All(w => w.WaitingSince is null), cancellationToken);
        Say($"[green]its {lived.Count} wallets answer again[/], recovered from the journal on the survivors, {Since(killedAt)} after the kill (longest wait {Seconds(lived.Select(w => w.LongestWait).DefaultIfEmpty().Max())})");

        _phase = $"{victim.Name} restarted";
        var restartedAt = _clock.Elapsed;
        var oldAddress = victim.Address;
        await StartNodeAsync(victim);
        Say($"started {victim.Name} again (pid {victim.Process!.Id}) on its port; a new incarnation of {oldAddress}");
        _phase = "rebalancing";
        await WaitAsync("the shards are balanced", Balanced, cancellationToken);
        Say($"[green]rebalanced[/] {Since(restartedAt)} after the restart: {string.Join(", ", _nodes.Select(n => $"{n.Name} {_snapshot.ShardsOn(n.Address)}"))} shards (moved a few at a time, each handed off cleanly)");

        _phase = "checking";
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await _stopTraffic.CancelAsync();
        await Task.WhenAll(traffic);
        Say($"stopped sending: {_acknowledged:N0} commands acknowledged, {_retries:N0} sent again after a timeout");
        var mismatches = await CheckAsync(region);
        _phase = mismatches == 0 ? "done" : "done: balances differ";
        return mismatches == 0 ? 0 : 1;
    }

    private async Task RunWalletAsync(IActorRef region, WalletState wallet, CancellationToken stop)
    {
#pragma warning disable CA5394 // a reproducible demo, not security
        var random = new Random(wallet.Id.Sum(c => c));
        while (!stop.IsCancellationRequested)
        {
            var coins = random.Next(4) == 0 ? -random.Next(1, 40) : random.Next(1, 20);
#pragma warning restore CA5394
            var command = new ChangeWallet(wallet.Id, wallet.Acknowledged + 1, coins);
            var ack = await SendUntilAcknowledgedAsync(region, wallet, command);
            var applied = wallet.Expected + coins >= 0;
            wallet.Expected += applied ? coins : 0;
            if (ack.Applied != applied || ack.Balance != wallet.Expected)
            {
                wallet.Problem ??= $"command {command.Number} ({coins:+#;-#}) answered {(ack.Applied ? "applied" : "refused")} with {ack.Balance}, expected {(applied ? "applied" : "refused")} with {wallet.Expected}";
            }

            wallet.Acknowledged = command.Number;
            wallet.LastApplied = applied ? command.Number : wallet.LastApplied;
            Interlocked.Increment(ref _acknowledged);
            if (wallet.WaitingSince is { } since)
            {
                wallet.LongestWait = _clock.Elapsed - since;
                wallet.WaitingSince = null;
            }

            wallet.Node = ack.Node;
            try
            {
                await Task.Delay(Pace, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Sends <paramref name="command"/> until a wallet answers it: a command that timed out may have been applied, and its number makes sending it again safe.</summary>
    private async Task<WalletAck> SendUntilAcknowledgedAsync(IActorRef region, WalletState wallet, ChangeWallet command)
    {
        var deadline = _clock.Elapsed + Patience;
        while (true)
        {
            try
            {
                return await region.Ask<WalletAck>(command, AskTimeout);
            }
            catch (Exception exception) when (exception is not OperationCanceledException && _clock.Elapsed < deadline)
            {
                Interlocked.Increment(ref _retries);
                wallet.WaitingSince ??= _clock.Elapsed - AskTimeout;
            }
        }
    }

    private async Task<int> CheckAsync(IActorRef region)
    {
        var answers = await Task.WhenAll(_wallets.Select(w => region.Ask<WalletAck>(new ReadWallet(w.Id), Patience)));
        var mismatches = 0;
        var table = new Table().AddColumns("wallet", "commands", "expected", "recovered", "node", "").Title("every wallet, read from where it lives now");
        foreach (var (wallet, answer) in _wallets.Zip(answers))
        {
            var ok = answer.Balance == wallet.Expected && answer.Number == wallet.LastApplied && wallet.Problem is null;
            mismatches += ok ? 0 : 1;
            if (!ok || table.Rows.Count < 8)
            {
                table.AddRow(wallet.Id, Number(wallet.Acknowledged), Number(wallet.Expected), Number(answer.Balance), Markup.Escape(NameOf(answer.Node)), ok ? "[green]ok[/]" : $"[red]MISMATCH[/] {Markup.Escape(wallet.Problem ?? $"last applied command {answer.Number}, expected {wallet.LastApplied}")}");
            }
        }

        if (!_live)
        {
            _console.Write(table);
        }

        _checkTable = table;
        Say(mismatches == 0
            ? $"[green]all {WalletCount} balances equal the acknowledged commands[/] (the first rows above)"
            : $"[red]{mismatches} of {WalletCount} balances differ from the acknowledged commands[/]");
        return mismatches;
    }

    private void PrintVerdict(int result)
    {
        _console.MarkupLine(result == 0 ? "[green]the cluster kept every acknowledged command through a SIGKILL, a restart and a rebalance[/]" : "[red]the check failed[/]");
        _console.MarkupLine($"next: [blue]recall cluster shards {Markup.Escape(_store.InspectArguments)}[/] shows where the shards ended up");
    }

    private bool Balanced()
    {
        var counts = _nodes.Select(n => _snapshot.ShardsOn(n.Address)).ToList();
        var total = counts.Sum();
        return total > 0 && counts.All(c => c >= total / counts.Count && c <= (total + counts.Count - 1) / counts.Count);
    }

    private async Task WaitAsync(string what, Func<bool> done, CancellationToken cancellationToken)
    {
        var deadline = _clock.Elapsed + Patience;
        while (true)
        {
            await RefreshAsync();
            if (done())
            {
                return;
            }

            if (_clock.Elapsed > deadline)
            {
                throw new CliException($"cluster demo: waited {Patience.TotalSeconds:0} s for: {what}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Reads members and shard homes from the store, as every node sees them.</summary>
    private async Task RefreshAsync()
    {
        if (_clientStores is null)
        {
            return;
        }

        try
        {
            var members = await _clientStores.Members.ReadAllAsync(CancellationToken.None);
            var homes = await _clientStores.Shards.ReadHomesAsync(ClusterWallet.TypeName, CancellationToken.None);
            _snapshot = new Snapshot(members, [.. homes.Select(h => h.Node)]);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A busy store: the next refresh reads again.
        }
    }

    private async Task StartNodeAsync(DemoNode node)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            start.ArgumentList.Add(typeof(ClusterDemo).Assembly.Location);
        }

        foreach (var argument in new[] { "demo", "cluster", "--node", "--port", Number(node.Port) }.Concat(_store.ChildArguments))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new CliException($"could not start {node.Name}");
        var errors = new ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            // Read at once, so that a full pipe never blocks the node; kept in the log, shown if it fails to start.
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                errors.Enqueue(line);
                _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {node.Name}: {line}");
            }
        });
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(Patience);
        if (ready is null || !ready.StartsWith(ClusterDemoNode.Ready + " ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            throw new CliException($"{node.Name} did not start: {ready ?? "no output"} {string.Join(" ", errors.Take(5))}");
        }

        node.Process?.Dispose();
        node.Process = process;
        node.Address = ready[(ClusterDemoNode.Ready.Length + 1)..].Trim();
        lock (_nodes)
        {
            if (!_nodes.Contains(node))
            {
                _nodes.Add(node);
                _nodes.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            }
        }

        Say($"{node.Name} is a member: {node.Address} (pid {process.Id})");
    }

    private void Say(string line)
    {
        var stamped = $"[grey]{_clock.Elapsed.TotalSeconds,5:0.0} s[/]  {line}";
        if (_live)
        {
            _recent.Enqueue(stamped);
            while (_recent.Count > 14)
            {
                _recent.TryDequeue(out _);
            }
        }
        else
        {
            _console.MarkupLine(stamped);
        }
    }

    private Rows Render()
    {
        var nodes = new Table().AddColumns("node", "address", "pid", "status", "shards", "wallets answered from it").Title($"[bold]{Markup.Escape(_phase)}[/]");
        foreach (var node in _nodes.ToArray())
        {
            var status = _snapshot.StatusOf(node.Address);
            nodes.AddRow(
                node.Name,
                Markup.Escape(node.Address),
                node.Process is { HasExited: false } p ? Number(p.Id) : "[red]gone[/]",
                status switch
                {
                    MemberStatus.Up => "[green]Up[/]",
                    MemberStatus.Down => "[red]Down[/]",
                    null => "-",
                    _ => status.Value.ToString(),
                },
                Number(_snapshot.ShardsOn(node.Address)),
                Number(_wallets.Count(w => w.Node == node.Address && w.WaitingSince is null)));
        }

        var waiting = _wallets.Count(w => w.WaitingSince is not null);
        var rows = new List<IRenderable>
        {
            nodes,
            new Markup($"commands acknowledged [green]{_acknowledged:N0}[/], sent again {_retries:N0}, wallets waiting for a new home [yellow]{waiting}[/]"),
            new Rows(_recent.Select(line => new Markup(line))),
        };
        if (_checkTable is not null)
        {
            rows.Add(_checkTable);
        }

        return new Rows(rows);
    }

    private string NameOf(string address) => _nodes.FirstOrDefault(n => n.Address == address)?.Name ?? address;

    private string Since(TimeSpan start) => Seconds(_clock.Elapsed - start);

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.0} s";

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await LeaveAsync();
        foreach (var node in _nodes)
        {
            node.Process?.Dispose();
        }

        if (_clientStores is not null)
        {
            await _clientStores.DisposeAsync();
        }

        _stopTraffic.Dispose();
        await _log.DisposeAsync();
    }

    /// <summary>The client leaves, then the nodes leave together; returns how many nodes had to be killed because they did not exit in time.</summary>
    private async Task<int> LeaveAsync()
    {
        if (_left)
        {
            return 0;
        }

        _left = true;
        await _stopTraffic.CancelAsync();
        if (_client is not null)
        {
            await _client.Cluster().LeaveAsync();
            await _client.TerminateAsync();
        }

        // The nodes leave together: with no member left to move them to, each stops its shards itself.
        var graceful = await Task.WhenAll(_nodes.Where(n => n.Process is { HasExited: false }).Select(n => QuitAsync(n.Process!)));
        return graceful.Count(g => !g);
    }

    private static async Task<bool> QuitAsync(Process process)
    {
        try
        {
            await process.StandardInput.WriteLineAsync("quit");
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            return true;
        }
        catch (Exception exception) when (exception is TimeoutException or IOException)
        {
            process.Kill(entireProcessTree: true);
            return false;
        }
    }

    /// <summary>A node process of the demo; started again under the same name and port after its kill.</summary>
    private sealed class DemoNode(string name, int port)
    {
        public string Name { get; } = name;

        public int Port { get; } = port;

        public string Address { get; set; } = "";

        public Process? Process { get; set; }
    }

    /// <summary>What the client knows of one wallet: the commands acknowledged, the balance they add up to, where it answered last.</summary>
    private sealed class WalletState(string id)
    {
        public string Id { get; } = id;

        public long Acknowledged { get; set; }

        /// <summary>The last acknowledged command that changed the balance (a refused one does not).</summary>
        public long LastApplied { get; set; }

        public int Expected { get; set; }

        public string Node { get; set; } = "";

        public TimeSpan? WaitingSince { get; set; }

        public TimeSpan LongestWait { get; set; }

        public string? Problem { get; set; }
    }

    /// <summary>Members and shard homes as the store holds them.</summary>
    private sealed record Snapshot(IReadOnlyList<MemberRecord> Members, IReadOnlyList<string> Homes)
    {
        public int ShardsOn(string address) => Homes.Count(h => h == address);

        public MemberStatus? StatusOf(string address) =>
            Members.Where(m => m.Address == address).OrderByDescending(m => m.Incarnation).FirstOrDefault()?.Status;
    }
}
