using Microsoft.Playwright;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Cluster.TestNode;
using Recall.Persistence.Leases;
using Recall.Persistence.Sqlite;
using Xunit.Abstractions;

namespace Recall.Cluster.Tests;

/// <summary>
/// A test in the distribution's headless Chromium, driven by Playwright (which never downloads a
/// browser here). Skipped, loudly, when Chromium is missing, unless RECALL_REQUIRE_BROWSER=1 (set by
/// <c>.ci/run</c>, which installs it), where it fails instead.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    /// <summary>The browser: RECALL_CHROMIUM, or the distribution's <c>/usr/bin/chromium</c>.</summary>
    public static string Chromium => Environment.GetEnvironmentVariable("RECALL_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public BrowserFactAttribute()
    {
        if (!File.Exists(Chromium) && Environment.GetEnvironmentVariable("RECALL_REQUIRE_BROWSER") != "1")
        {
            Skip = $"SKIPPED: no Chromium at {Chromium} (apt-get install chromium, or set RECALL_CHROMIUM)";
        }
    }
}

/// <summary>
/// The dashboard in a browser: nodes in child processes (sharded accounts on one SQLite file), this
/// process a member serving the dashboard; a node killed with SIGKILL goes Down on the page and its
/// shards move to the survivor. With RECALL_DASHBOARD_SCREENSHOTS=DIR it saves the page before and after.
/// </summary>
[Collection(Timing.Collection)]
public sealed class DashboardBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    // Lease duration and DownAfter of the nodes and of this process: 5 s, not the 3 s of the other
    // process tests, because this process also launches Chromium and sends traffic, and on a loaded
    // 2-core machine it could miss heartbeats for 4/5 of 3 s, count itself out and stop its dashboard.
    private const double Seconds = 5;
    private static readonly float Patience = (float)Wait.Timeout.TotalMilliseconds * 2;
    private readonly NodeProcesses _nodes = new(Seconds);
    private readonly string _folder = Directory.CreateTempSubdirectory("recall-dashboard-").FullName;
    private readonly List<IAsyncDisposable> _stores = [];
    private ActorSystem? _client;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.TerminateAsync();
        }

        _nodes.Dispose();
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        Directory.Delete(_folder, recursive: true);
    }

    [BrowserFact]
    public async Task The_page_shows_a_killed_node_going_down_and_its_shards_moving_to_the_survivor()
    {
        Assert.True(File.Exists(BrowserFactAttribute.Chromium), $"RECALL_REQUIRE_BROWSER=1 but there is no Chromium at {BrowserFactAttribute.Chromium}: apt-get install chromium");
        var file = Path.Combine(_folder, "cluster.db");
        var a = await _nodes.StartAsync("a", file, "shards");
        var b = await _nodes.StartAsync("b", file, "shards");
        var accounts = await ClientAsync(file);

        // Accounts on both nodes, then on, in the background, so that a's shards are wanted elsewhere once it is gone.
        var ids = Enumerable.Range(0, 40).Select(i => $"acc-{i}").ToList();
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            for (var round = 0; !stop.IsCancellationRequested; round++)
            {
                await Task.WhenAll(ids.Select(async id =>
                {
                    try
                    {
                        await accounts.Ask<DepositAck>(new Deposit(id, $"{id}-{round}", 1), TimeSpan.FromSeconds(2));
                    }
                    catch (Exception exception) when (exception is AskTimeoutException or AskFailedException)
                    {
                        // its shard is moving: the next round sends again
                    }
                }));
            }
        });

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFactAttribute.Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        using (var http = new HttpClient())
        {
            Assert.False(_client!.WhenTerminated.IsCompleted, "this process's node counted itself out before the page was opened (a loaded machine): its dashboard is gone");
            output.WriteLine($"dashboard at {_client.Cluster().DashboardAddress}: {(await http.GetStringAsync(new Uri(_client.Cluster().DashboardAddress!, "api/state"))).Length} bytes of state");
        }

        await page.GotoAsync(_client!.Cluster().DashboardAddress!.ToString());

        // Both nodes Up, each the home of some shards.
        foreach (var node in new[] { a, b })
        {
            await page.WaitForSelectorAsync($"#members tr[data-address='{node.Address}'][data-status='Up']", new() { Timeout = Patience });
            await page.WaitForSelectorAsync($".tile[data-node='{node.Address}']", new() { Timeout = Patience });
        }

        var shardsBefore = await page.Locator(".tile").CountAsync();
        output.WriteLine($"before: {await page.Locator($".tile[data-node='{a.Address}']").CountAsync()} shards on a, {await page.Locator($".tile[data-node='{b.Address}']").CountAsync()} on b");
        await ScreenshotAsync(page, "dashboard-before.png");

        Assert.True(NodeProcesses.Signal(a.Process, "KILL"), "a could not be killed");
        await page.WaitForSelectorAsync($"#members tr[data-address='{a.Address}'][data-status='Down']", new() { Timeout = Patience });
        output.WriteLine("a is Down on the page");
        await page.WaitForFunctionAsync(
            "([gone, survivor, count]) => document.querySelectorAll(`.tile[data-node='${gone}']`).length === 0 && document.querySelectorAll(`.tile[data-node='${survivor}']`).length >= count",
            new object[] { a.Address, b.Address, shardsBefore },
            new() { Timeout = Patience });
        output.WriteLine($"after: every shard ({await page.Locator($".tile[data-node='{b.Address}']").CountAsync()}) on b");
        Assert.Equal("Up", await page.Locator($"#members tr[data-address='{b.Address}']").GetAttributeAsync("data-status"));
        await ScreenshotAsync(page, "dashboard-after-kill.png");

        await stop.CancelAsync();
        await traffic;
    }

    /// <summary>This process as a member that sends to the accounts and serves the dashboard.</summary>
    private async Task<IActorRef> ClientAsync(string file)
    {
        var store = new SqliteStoreOptions { Path = file };
        var leases = new SqliteLeaseStore(store);
        var members = new SqliteMembershipStore(store);
        var shards = new SqliteShardStore(store);
        _stores.AddRange([leases, members, shards]);
        _client = ActorSystem.Create("client", o => o.UseCluster(c =>
        {
            c.Listen("127.0.0.1", 0).UseLeaseStore(leases).UseMembershipStore(members).UseShardStore(shards);
            c.DownAfter = TimeSpan.FromSeconds(Seconds);
            c.HeartbeatInterval = TimeSpan.FromSeconds(Seconds / 5);
            c.Lease = new LeaseOptions { Duration = TimeSpan.FromSeconds(Seconds) };
            c.UseDashboard(0, d => d.RefreshInterval = TimeSpan.FromMilliseconds(500));
        }));
        await _client.Cluster().JoinAsync();
        return _client.Sharding().StartProxy(Account.TypeName, new AccountExtractor());
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        if (Environment.GetEnvironmentVariable("RECALL_DASHBOARD_SCREENSHOTS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name), FullPage = true });
        }
    }
}
