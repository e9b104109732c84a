using System.Diagnostics;
using Recall.Actors;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

public sealed class TracingTests
{
    [Fact]
    public async Task A_message_to_another_node_is_handled_there_as_part_of_the_senders_trace()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);

        var command = new Activity("command").SetIdFormat(ActivityIdFormat.W3C).Start();
        echo.Tell(new WhichTrace(), probe.Ref);
        command.Stop();
        var seen = await probe.ExpectMsgAsync<TraceSeen>(timeout: Nodes.Timeout);

        Assert.Equal(command.TraceId.ToHexString(), seen.TraceId);
        Assert.Equal(command.Id, seen.ParentId);

        // Told with no activity current, it arrives with none.
        echo.Tell(new WhichTrace(), probe.Ref);
        Assert.Equal(new TraceSeen(null, null), await probe.ExpectMsgAsync<TraceSeen>(timeout: Nodes.Timeout));
    }
}
