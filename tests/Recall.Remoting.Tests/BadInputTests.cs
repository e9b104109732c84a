using System.Diagnostics.Metrics;
using Recall.Actors;
using Recall.Remoting.TestNode;
using Recall.TestKit;

namespace Recall.Remoting.Tests;

/// <summary>What cannot be delivered becomes a counted dead letter; the connection and every later message survive.</summary>
public sealed class BadInputTests
{
    [Fact]
    public async Task A_message_whose_manifest_the_receiver_does_not_know_is_a_dead_letter_there_and_the_stream_goes_on()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start(UniqueName(), r => r.Serialization!.Registry.Register<OnlyTheSenderKnowsMe>("test.only-the-sender-knows-me"));
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);
        using var deadLetters = new DeadLetterReasons();

        echo.Tell(new OnlyTheSenderKnowsMe(1), probe.Ref); // registered by hand on b (no attribute a could find)
        echo.Tell(new Ping(2), probe.Ref);

        Assert.Equal(new Ping(2), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
        await Eventually.TrueAsync(() => deadLetters.Count("unknown-manifest", a) == 1, "a counted the unknown manifest");
        Assert.True(a.DeadLetterCount >= 1);
    }

    [Fact]
    public async Task An_oversized_or_unserializable_message_is_a_dead_letter_at_the_sender_and_the_next_one_arrives()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start(UniqueName(), r => r.MaxFrameBytes = 4096);
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var probe = new TestProbe(b);
        using var deadLetters = new DeadLetterReasons();

        echo.Tell(new Ping(1, new string('x', 10_000)), probe.Ref);
        echo.Tell(new NoManifest(), probe.Ref);
        echo.Tell(new Ping(2), probe.Ref);

        Assert.Equal(new Ping(2), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
        await Eventually.TrueAsync(() => deadLetters.Count("oversized", b) == 1 && deadLetters.Count("unserializable", b) == 1, "b counted both");
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task A_message_to_a_path_where_no_actor_lives_is_a_dead_letter_on_the_receiving_node()
    {
        await using var nodes = new Nodes();
        var a = nodes.Start("a");
        var b = nodes.Start(UniqueName());
        a.Spawn(Props.Create(() => new Echo()), "echo");
        var echo = await b.ResolveAsync($"{a.Address}/user/echo", Nodes.Timeout);
        var nobody = b.ResolvePath(ActorPath.Parse($"{a.Address}/user/nobody"));
        var probe = new TestProbe(b);
        using var deadLetters = new DeadLetterReasons();

        nobody.Tell(new Ping(1), probe.Ref);
        echo.Tell(new Ping(2), probe.Ref);

        Assert.Equal(new Ping(2), await probe.ExpectMsgAsync<Ping>(timeout: Nodes.Timeout));
        await Eventually.TrueAsync(() => deadLetters.Count("unknown-recipient", a) == 1, "a counted the message to nobody");
    }

    [Fact]
    public async Task Messages_to_an_unreachable_node_overflow_a_bounded_queue_into_dead_letters()
    {
        await using var nodes = new Nodes();
        var b = nodes.Start(UniqueName(), r =>
        {
            r.OutboundQueueCapacity = 50;
            r.NodeGoneAfter = TimeSpan.FromMinutes(5);
        });
        var nowhere = b.ResolvePath(ActorPath.Parse($"recall://a@127.0.0.1:{NodeProcess.FreePort()}/user/echo"));
        using var deadLetters = new DeadLetterReasons();

        for (var i = 0; i < 1000; i++)
        {
            nowhere.Tell(new Ping(i), null);
        }

        var peer = Assert.Single(b.Remoting().Peers);
        Assert.False(peer.IsConnected);
        Assert.True(peer.QueuedMessages <= 50, $"{peer.QueuedMessages} messages queued");
        Assert.True(deadLetters.Count("queue-full", b) >= 950, $"{deadLetters.Count("queue-full", b)} dead letters counted");
    }

    [Fact]
    public async Task Queued_messages_to_a_node_that_is_gone_become_dead_letters_and_later_ones_too()
    {
        await using var nodes = new Nodes();
        var b = nodes.Start(UniqueName(), r => r.NodeGoneAfter = TimeSpan.FromMilliseconds(500));
        var nowhere = b.ResolvePath(ActorPath.Parse($"recall://a@127.0.0.1:{NodeProcess.FreePort()}/user/echo"));
        using var deadLetters = new DeadLetterReasons();

        nowhere.Tell(new Ping(1), null);
        await Eventually.TrueAsync(() => deadLetters.Count("peer-gone", b) == 1, "the queued message became a dead letter");
        nowhere.Tell(new Ping(2), null);

        Assert.Equal(2, deadLetters.Count("peer-gone", b));
        Assert.Empty(b.Remoting().Peers);
    }

    /// <summary>
    /// A system name no other test uses: the dead-letter metric tells systems apart by name, and
    /// test classes run side by side in one process (another class's node "b" counted here once).
    /// </summary>
    private static string UniqueName() => "b-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Counts the Recall.Remoting dead-letter metric by reason and system.</summary>
    private sealed class DeadLetterReasons : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(string Reason, string System), int> _counts = [];

        public DeadLetterReasons()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Recall.Remoting" && instrument.Name == "recall.remoting.dead_letters")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? reason = null, system = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        reason = tag.Value as string;
                    }
                    else if (tag.Key == "system")
                    {
                        system = tag.Value as string;
                    }
                }

                lock (_counts)
                {
                    var key = (reason ?? "", system ?? "");
                    _counts[key] = _counts.GetValueOrDefault(key) + (int)value;
                }
            });
            _listener.Start();
        }

        public int Count(string reason, ActorSystem system)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault((reason, system.Name));
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}

public sealed record OnlyTheSenderKnowsMe(int N);

public sealed record NoManifest;
