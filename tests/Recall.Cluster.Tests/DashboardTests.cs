using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Recall.Actors;
using Recall.Cluster.Sharding;
using Recall.Persistence.Leases;
using Recall.Persistence.Serialization;

namespace Recall.Cluster.Tests;

[EventType("dashboard-tests.where")]
public sealed record WhereIs(string Entity);

[EventType("dashboard-tests.here")]
public sealed record HereIs(string Entity, string Node);

/// <summary>A plain sharded entity that says where it runs.</summary>
public sealed class WhereEntity(string id) : Actor
{
    protected override void Receive(object message) => Sender.Tell(new HereIs(id, Context.System.Address.ToString()), Self);
}

/// <summary>10 shards of <see cref="WhereEntity"/>.</summary>
public sealed class WhereExtractor() : HashCodeMessageExtractor(10)
{
    public override string? EntityId(object message) => (message as WhereIs)?.Entity;
}

/// <summary>The dashboard's JSON, events and actions, served by an in-process node.</summary>
[Collection(Timing.Collection)]
public sealed class DashboardTests : IAsyncDisposable
{
    private const string Token = "a-token-of-the-tests-0123456789";
    private readonly TestCluster _cluster = new(new InMemoryLeaseStore());
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _cluster.DisposeAsync();
    }

    private async Task<(ActorSystem A, ActorSystem B)> TwoNodesWithShardsAsync(Action<ClusterOptions> dashboard)
    {
        var a = await _cluster.NodeAsync("a", configure: dashboard);
        var b = await _cluster.NodeAsync("b");
        foreach (var node in new[] { a, b })
        {
            node.Sharding().Start("where", id => Props.Create(() => new WhereEntity(id)), new WhereExtractor());
        }

        return (a, b);
    }

    private async Task<JsonElement> StateAsync(ActorSystem node) =>
        JsonDocument.Parse(await _http.GetStringAsync(new Uri(node.Cluster().DashboardAddress!, "api/state"))).RootElement;

    [Fact]
    public async Task The_state_shows_the_members_every_shard_with_its_running_entities_and_the_coordinator_lease()
    {
        var (a, b) = await TwoNodesWithShardsAsync(c => c.UseDashboard(0));
        var region = a.Sharding().Region("where");
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => region.Ask<HereIs>(new WhereIs($"e{i}"), TimeSpan.FromSeconds(20))));

        JsonElement state = default;
        await Wait.UntilAsync(async () =>
        {
            state = await StateAsync(a);
            return state.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("entities").ValueKind == JsonValueKind.Number ? s.GetProperty("entities").GetInt32() : 0) == 20;
        }, "the dashboard counts the 20 running entities");

        Assert.Equal(a.Address.ToString(), state.GetProperty("source").GetString());
        var members = state.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal([a.Address.ToString(), b.Address.ToString()], members.Select(m => m.GetProperty("address").GetString()).Order());
        Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
        Assert.True(members.Single(m => m.GetProperty("isServing").GetBoolean()).GetProperty("address").GetString() == a.Address.ToString());

        // Every shard that runs an entity is on the node the entity answered from.
        var shards = state.GetProperty("shards").EnumerateArray().ToList();
        foreach (var answer in answers)
        {
            var shard = HashCodeMessageExtractor.ShardOf(answer.Entity, 10);
            Assert.Equal(answer.Node, shards.Single(s => s.GetProperty("shardId").GetString() == shard).GetProperty("node").GetString());
        }

        var coordinator = state.GetProperty("leases").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "singleton:sharding-coordinator-where");
        Assert.True(coordinator.GetProperty("held").GetBoolean());
        Assert.False(state.GetProperty("actionsAllowed").GetBoolean());
        Assert.Equal(0, state.GetProperty("problems").GetArrayLength());
    }

    [Fact]
    public async Task The_page_is_one_file_that_fetches_nothing_from_elsewhere_and_events_push_the_state()
    {
        var (a, _) = await TwoNodesWithShardsAsync(c => c.UseDashboard(0));
        var page = await _http.GetStringAsync(a.Cluster().DashboardAddress);
        Assert.Contains("new EventSource(\"api/events\")", page, StringComparison.Ordinal);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", page);

        using var events = await _http.GetAsync(new Uri(a.Cluster().DashboardAddress!, "api/events"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", events.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync());
        Assert.Equal("event: state", await reader.ReadLineAsync());
        var data = await reader.ReadLineAsync();
        Assert.StartsWith("data: ", data, StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(data!["data: ".Length..]).RootElement.GetProperty("members").GetArrayLength());
    }

    [Fact]
    public async Task Actions_are_refused_when_read_only_or_without_the_token_and_leave_makes_the_node_leave_with_it()
    {
        var (a, b) = await TwoNodesWithShardsAsync(c => c.UseDashboard(0, o => o.Token = Token));
        var leave = new Uri(a.Cluster().DashboardAddress!, "api/actions/leave");

        using (var anonymous = await _http.PostAsync(leave, null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Post, leave) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } })
        using (var refused = await _http.SendAsync(wrong))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        Assert.True((await StateAsync(a)).GetProperty("actionsAllowed").GetBoolean());
        Assert.Equal(a.Address.ToString(), (await StateAsync(a)).GetProperty("source").GetString());
        Assert.False(a.WhenTerminated.IsCompleted, "a refused action changed nothing");

        using (var unknown = new HttpRequestMessage(HttpMethod.Post, new Uri(a.Cluster().DashboardAddress!, "api/actions/pause?name=none&key=none")) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } })
        using (var bad = await _http.SendAsync(unknown))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.StartsWith("No projection 'none' (none) runs on", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var authorized = new HttpRequestMessage(HttpMethod.Post, leave) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } })
        using (var accepted = await _http.SendAsync(authorized))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        await a.WhenTerminated.WaitAsync(Wait.Timeout);
        await Wait.UntilAsync(() => b.Cluster().Members.All(m => !m.Address.Equals(a.Address)), "b sees that a left");
    }

    [Fact]
    public async Task A_dashboard_without_a_token_refuses_every_action()
    {
        var (a, _) = await TwoNodesWithShardsAsync(c => c.UseDashboard(0));
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(a.Cluster().DashboardAddress!, "api/actions/leave")) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("read-only", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(a.WhenTerminated.IsCompleted);
    }

    [Fact]
    public void A_short_token_or_a_port_out_of_range_is_refused_by_name()
    {
        var options = new ClusterOptions();
        Assert.Contains("Token", Assert.Throws<ArgumentException>(() => options.UseDashboard(0, o => o.Token = "short")).Message, StringComparison.Ordinal);
        Assert.Contains("Port", Assert.Throws<ArgumentException>(() => options.UseDashboard(70000)).Message, StringComparison.Ordinal);
    }
}
