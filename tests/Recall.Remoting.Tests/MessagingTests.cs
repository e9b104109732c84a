using Recall.Actors;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

public sealed class MessagingTests
{
    [Fact]
    public async Task An_ask_to_an_actor_of_another_node_gets_its_reply()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");

        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var reply = await echo.Ask<Ping>(new Ping(7, "seven"), Nodes.Timeout);

        Assert.Equal(new Ping(7, "seven"), reply);
        Assert.Equal($"{a.Address}/user/echo", echo.Path.ToString());
        await Eventually.TrueAsync(() => b.TempRefCount == 0, "the answered ask is no longer reachable by path");
    }

    [Fact]
    public async Task Tell_keeps_the_sender_both_ways()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var probe = new TestProbe(b);

        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        echo.Tell(new Ping(1), probe.Ref);

        Assert.Equal(new Ping(1), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
        Assert.Equal(echo.Path, probe.LastSender!.Path);

        // The sender the echo saw is a ref to the probe on node b: answering it crosses back.
        probe.Reply(new Ping(2));
        Assert.Equal(new Ping(2), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
    }

    [Fact]
    public async Task Forward_keeps_the_original_sender_across_nodes()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var forwarder = b.Spawn(Props.Create(() => new Forwarder(echo)), "forwarder");
        var probe = new TestProbe(b);

        forwarder.Tell(new Ping(3), probe.Ref);

        Assert.Equal(new Ping(3), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
        Assert.Equal(echo.Path, probe.LastSender!.Path);
    }

    [Fact]
    public async Task Refs_inside_messages_travel_as_paths_and_work_on_arrival()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var probe = new TestProbe(b);
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);

        echo.Tell(new PleaseReplyTo(probe.Ref, "over there"), null);
        Assert.Equal("over there", await probe.ExpectMsgAsync<string>(timeout: Nodes.Timeout));

        // A typed reply ref of an ask: the reply comes back to the ask in the other process.
        var text = await echo.Ask<string>(replyTo => new GetText(replyTo), Nodes.Timeout);
        Assert.Equal($"text from {a.Address}/user/echo", text);
    }

    [Fact]
    public async Task Messages_from_many_senders_arrive_complete_and_in_order_per_sender()
    {
        const int senders = 8;
        const int each = 12_500;
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");
        a.Spawn(Props.Create(() => new Sink()), "sink");
        var sink = await b.ResolveAsync($"{a.Address}/user/sink", Nodes.Timeout);

        await Task.WhenAll(Enumerable.Range(0, senders).Select(s => Task.Run(() =>
        {
            for (var n = 0; n < each; n++)
            {
                sink.Tell(new Sequenced(s, n), null);
            }
        })));

        // The count is asked after every message was queued; one stream keeps the order, so it answers last.
        var counted = await sink.Ask<Counted>(new CountPlease(senders), Nodes.Timeout * 3);
        Assert.Equal(new Counted(senders * each, 0), counted);
    }

    [Fact]
    public async Task Resolving_a_path_where_no_actor_lives_says_so()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start("b");

        var missing = await Assert.ThrowsAsync<ActorNotFoundException>(() => b.ResolveAsync($"{a.Address}/user/nobody", Nodes.Timeout));
        Assert.Contains("/user/nobody", missing.Message, StringComparison.Ordinal);
        Assert.Contains("has no actor", missing.Message, StringComparison.Ordinal);

        var local = await Assert.ThrowsAsync<ActorNotFoundException>(() => b.ResolveAsync($"{b.Address}/user/nobody"));
        Assert.Contains("no actor", local.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_local_path_resolves_to_the_local_actor_and_never_serializes()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var unserializable = new object();
        var probe = new TestProbe(a);
        var local = await a.ResolveAsync(probe.Ref.Path.ToString());

        local.Tell(unserializable, null);

        Assert.Same(unserializable, await probe.ExpectMsgAsync<object>(timeout: Nodes.Timeout));
        Assert.Same(probe.Ref, local);
    }

    private sealed class Forwarder(IActorRef target) : Actor
    {
        protected override void Receive(object message) => target.Forward(message);
    }
}

public sealed class SerializerTests
{
    /// <summary>A hand-written binary format for <see cref="Ping"/>: 4-byte number, then UTF-8 text.</summary>
    private sealed class PingSerializer : Recall.Persistence.Serialization.ISerializer
    {
        public int Written;
        public int Read;

        public byte[] Serialize(object value, Type type)
        {
            Interlocked.Increment(ref Written);
            var ping = (Ping)value;
            var bytes = new byte[4 + System.Text.Encoding.UTF8.GetByteCount(ping.S)];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes, ping.N);
            System.Text.Encoding.UTF8.GetBytes(ping.S, bytes.AsSpan(4));
            return bytes;
        }

        public object Deserialize(ReadOnlySpan<byte> data, Type type)
        {
            Interlocked.Increment(ref Read);
            return new Ping(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(data), System.Text.Encoding.UTF8.GetString(data[4..]));
        }
    }

    [Fact]
    public async Task A_serializer_of_its_own_for_one_message_type_is_used_both_ways_and_the_rest_stays_json()
    {
        var sender = new PingSerializer();
        var receiver = new PingSerializer();
        await using var nodes = new Nodes();
        var a = nodes.Start("a", r => r.Serialization!.UseSerializer<Ping>(receiver));
        var b = nodes.Start("b", r => r.Serialization!.UseSerializer<Ping>(sender));
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);

        Assert.Equal(new Ping(42, "binary"), await echo.Ask<Ping>(new Ping(42, "binary"), Nodes.Timeout));
        Assert.Equal(new TraceSeen(null, null), await echo.Ask<TraceSeen>(new WhichTrace(), Nodes.Timeout)); // JSON both ways

        Assert.Equal((1, 1), (sender.Written, sender.Read));     // b wrote the ping and read the echo
        Assert.Equal((1, 1), (receiver.Read, receiver.Written)); // a read it and wrote it back
    }
}

public sealed class PathTableTests
{
    [Fact]
    public async Task Messages_keep_their_recipients_and_senders_while_the_path_tables_start_over_again_and_again()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a", r => r.PathTableCapacity = 8);
        var b = nodes.Start("b", r => r.PathTableCapacity = 8);
        var echoes = Enumerable.Range(0, 40).Select(i => a.Spawn(Props.Create(() => new Echo()), $"echo-{i}")).ToList();
        var remote = echoes.Select(e => b.ResolvePath(e.Path)).ToList();
        var probe = new TestProbe(b);

        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < remote.Count; i++)
            {
                remote[i].Tell(new Ping((round * 100) + i), probe.Ref);
            }

            // Replies of different echoes may come in any order; each must come from the echo it went to.
            var replies = new Dictionary<int, ActorPath>();
            for (var i = 0; i < remote.Count; i++)
            {
                var reply = await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout);
                replies.Add(reply.N, probe.LastSender!.Path);
            }

            Assert.Equal(Enumerable.Range(0, remote.Count).Select(i => ((round * 100) + i, echoes[i].Path)), replies.OrderBy(r => r.Key).Select(r => (r.Key, r.Value)));
        }

        // Asks go inline (their paths are used once): many of them leave the tables alone and all come back.
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(new Ping(i), await remote[i % remote.Count].Ask<Ping>(new Ping(i), Nodes.Timeout));
        }
    }
}
