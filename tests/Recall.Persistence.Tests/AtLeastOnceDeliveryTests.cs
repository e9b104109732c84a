using Microsoft.Extensions.Time.Testing;
using Recall.Persistence.Delivery;

namespace Recall.Persistence.Tests;

public sealed class AtLeastOnceDeliveryTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // The seed's example: the sender persists MsgSent and MsgConfirmed; the destination confirms.
    public sealed record Send(string Text);

    public sealed record Msg(long DeliveryId, string Text);

    public sealed record Confirm(long DeliveryId);

    [EventType("test.msg-sent.v1")]
    public sealed record MsgSent(string Text);

    [EventType("test.msg-confirmed.v1")]
    public sealed record MsgConfirmed(long DeliveryId);

    public sealed record GetUnconfirmed;

    private sealed class Sender(string id, IActorRef destination, IActorRef? observer = null, AtLeastOnceDeliveryOptions? options = null) : AtLeastOnceDeliveryActor
    {
        public override string PersistenceId => id;

        protected override AtLeastOnceDeliveryOptions DeliveryOptions { get; } = options ?? new() { RedeliverInterval = Interval };

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case Send send:
                    Persist(new MsgSent(send.Text), Apply);
                    break;
                case Confirm confirm:
                    Persist(new MsgConfirmed(confirm.DeliveryId), Apply);
                    break;
                case GetUnconfirmed:
                    Sender.Tell(UnconfirmedCount);
                    break;
                case UnconfirmedWarning warning:
                    observer?.Tell(warning, null);
                    break;
                default:
                    Unhandled(command);
                    break;
            }
        }

        protected override void ReceiveRecover(object message)
        {
            if (message is MsgSent or MsgConfirmed)
            {
                Apply(message);
            }
        }

        private void Apply(object @event)
        {
            switch (@event)
            {
                case MsgSent sent:
                    Deliver(destination, deliveryId => new Msg(deliveryId, sent.Text));
                    break;
                case MsgConfirmed confirmed:
                    ConfirmDelivery(confirmed.DeliveryId);
                    break;
            }
        }
    }

    /// <summary>Confirms every message and reports the first delivery of each id, and every duplicate.</summary>
    private sealed class Destination(IActorRef observer, Func<Msg, bool>? drop = null) : Actor
    {
        private readonly HashSet<long> _seen = [];

        protected override void Receive(object message)
        {
            if (message is not Msg msg)
            {
                Unhandled(message);
                return;
            }

            if (drop?.Invoke(msg) == true)
            {
                return;
            }

            observer.Tell(_seen.Add(msg.DeliveryId) ? msg : new Duplicate(msg.DeliveryId), null);
            Sender.Tell(new Confirm(msg.DeliveryId));
        }
    }

    public sealed record Duplicate(long DeliveryId);

    [Fact]
    public async Task Messages_are_delivered_with_increasing_ids_and_confirmed()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var destination = system.Spawn(Props.Create(() => new Destination(probe.Ref)));
        var sender = system.Spawn(Props.Create(() => new Sender("s-1", destination)));

        sender.Tell(new Send("a"), null);
        sender.Tell(new Send("b"), null);

        Assert.Equal(new Msg(1, "a"), await probe.ExpectMsgAsync<Msg>());
        Assert.Equal(new Msg(2, "b"), await probe.ExpectMsgAsync<Msg>());
        await AwaitUnconfirmedAsync(sender, 0);
    }

    [Fact]
    public async Task An_unconfirmed_message_is_sent_again_after_the_interval_and_a_warning_follows_N_attempts()
    {
        var clock = new FakeTimeProvider();
        await using var system = ActorSystem.Create("test", o => { o.TimeProvider = clock; o.UsePersistence(p => p.UseInMemory()); });
        var probe = new TestProbe(system);
        var attempts = 0;
        var destination = system.Spawn(Props.Create(() => new Destination(probe.Ref, _ => Interlocked.Increment(ref attempts) <= 3)));
        var options = new AtLeastOnceDeliveryOptions { RedeliverInterval = Interval, WarnAfterNumberOfUnconfirmedAttempts = 3 };
        var sender = system.Spawn(Props.Create(() => new Sender("s-2", destination, probe.Ref, options)));

        sender.Tell(new Send("x"), null);
        await WaitUntilAsync(() => Volatile.Read(ref attempts) == 1);
        clock.Advance(Interval / 2);
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Volatile.Read(ref attempts));

        clock.Advance(Interval / 2);
        await WaitUntilAsync(() => Volatile.Read(ref attempts) == 2);
        clock.Advance(Interval);
        var warning = await probe.ExpectMsgAsync<UnconfirmedWarning>();
        Assert.Equal(3, Assert.Single(warning.Deliveries).Attempts);

        clock.Advance(Interval);
        Assert.Equal(new Msg(1, "x"), await probe.ExpectMsgAsync<Msg>());
        await AwaitUnconfirmedAsync(sender, 0);
    }

    [Fact]
    public async Task Over_a_lossy_network_every_message_is_confirmed_and_seen_once_after_deduplication()
    {
        var clock = new FakeTimeProvider();
        await using var system = ActorSystem.Create("test", o => { o.TimeProvider = clock; o.UsePersistence(p => p.UseInMemory()); });
        var probe = new TestProbe(system);
        var random = new Random(7);
        var network = system.Spawn(Props.Create(() => new LossyNetwork(random)));
        var destination = system.Spawn(Props.Create(() => new Destination(probe.Ref)));
        network.Tell(destination, null);
        var sender = system.Spawn(Props.Create(() => new Sender("s-3", network)));

        const int count = 200;
        for (var i = 0; i < count; i++)
        {
            sender.Tell(new Send($"m{i}"), null);
        }

        var firstDeliveries = new HashSet<long>();
        var duplicates = 0;
        for (var round = 0; firstDeliveries.Count < count && round < 200; round++)
        {
            await Task.Delay(20);
            clock.Advance(Interval);
            while (await TryReceiveAsync(probe) is { } message)
            {
                if (message is Msg msg)
                {
                    Assert.True(firstDeliveries.Add(msg.DeliveryId), $"delivery {msg.DeliveryId} reported as first twice");
                }
                else
                {
                    duplicates++;
                }
            }
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), firstDeliveries.Order());
        Assert.True(duplicates > 0, "the lossy network should have produced duplicates");
        await AwaitUnconfirmedAsync(sender, 0, clock);
    }

    [Fact]
    public async Task During_recovery_deliveries_are_only_recorded_and_after_it_every_unconfirmed_one_is_sent_again()
    {
        var journal = new Recall.Persistence.InMemory.InMemoryJournal(new EventSerialization());
        await using (var first = ActorSystem.Create("first", o => o.UsePersistence(p => p.UseJournal(journal))))
        {
            var silent = first.Spawn(Props.Create(() => new Destination(first.DeadLetters, _ => true)));
            var sender = first.Spawn(Props.Create(() => new Sender("s-4", silent)));
            sender.Tell(new Send("p"), null);
            sender.Tell(new Send("q"), null);
            await AwaitUnconfirmedAsync(sender, 2);
        }

        // The first system is gone with two promised, unconfirmed messages in the journal.
        await using var second = ActorSystem.Create("second", o => o.UsePersistence(p => p.UseJournal(journal)));
        var probe = new TestProbe(second);
        var destination = second.Spawn(Props.Create(() => new Destination(probe.Ref)));
        var restarted = second.Spawn(Props.Create(() => new Sender("s-4", destination)));

        Assert.Equal(new Msg(1, "p"), await probe.ExpectMsgAsync<Msg>());
        Assert.Equal(new Msg(2, "q"), await probe.ExpectMsgAsync<Msg>());
        await AwaitUnconfirmedAsync(restarted, 0);
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task Delivering_beyond_the_maximum_of_unconfirmed_messages_is_a_clear_error()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var silent = system.Spawn(Props.Create(() => new Destination(probe.Ref, _ => true)));
        var options = new AtLeastOnceDeliveryOptions { RedeliverInterval = Interval, MaxUnconfirmedMessages = 2 };
        var deliverer = system.Spawn(Props.Create(() => new BareDeliverer("s-5", silent, probe.Ref, options)));

        for (var i = 0; i < 3; i++)
        {
            deliverer.Tell(i, null);
        }

        Assert.Equal("delivered", await probe.ExpectMsgAsync<string>());
        Assert.Equal("delivered", await probe.ExpectMsgAsync<string>());
        var error = await probe.ExpectMsgAsync<MaxUnconfirmedMessagesExceededException>();
        Assert.Contains("s-5", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, error.Max);
    }

    [Fact]
    public async Task The_delivery_snapshot_restores_the_next_id_and_the_unconfirmed_deliveries()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var silent = system.Spawn(Props.Create(() => new Destination(probe.Ref, _ => true)));
        var deliverer = system.Spawn(Props.Create(() => new BareDeliverer("s-6", silent, probe.Ref, new() { RedeliverInterval = Interval })));
        deliverer.Tell(1, null);
        deliverer.Tell(2, null);
        await probe.ExpectMsgAsync<string>();
        await probe.ExpectMsgAsync<string>();

        deliverer.Tell("snapshot", null);
        var snapshot = await probe.ExpectMsgAsync<AtLeastOnceDeliverySnapshot>();
        Assert.Equal(3, snapshot.NextDeliveryId);
        Assert.Equal([1L, 2L], snapshot.Unconfirmed.Select(u => u.DeliveryId));

        var copy = system.Spawn(Props.Create(() => new BareDeliverer("s-6b", silent, probe.Ref, new() { RedeliverInterval = Interval })));
        copy.Tell(snapshot, null);
        copy.Tell(3, null);
        await probe.ExpectMsgAsync<string>();
        copy.Tell("snapshot", null);
        var restored = await probe.ExpectMsgAsync<AtLeastOnceDeliverySnapshot>();
        Assert.Equal(4, restored.NextDeliveryId);
        Assert.Equal([1L, 2L, 3L], restored.Unconfirmed.Select(u => u.DeliveryId));
    }

    [Fact]
    public async Task A_stored_delivery_snapshot_brings_back_its_messages_and_destinations()
    {
        await using var system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory().Events.Register<Msg>("test.delivery-msg.v1")));
        var probe = new TestProbe(system);
        var destination = new TestProbe(system);
        var deliverer = system.Spawn(Props.Create(() => new BareDeliverer("s-7", destination.Ref, probe.Ref, new() { RedeliverInterval = TimeSpan.FromHours(1) })));
        deliverer.Tell(1, null);
        deliverer.Tell(2, null);
        await probe.ExpectMsgAsync<string>();
        await probe.ExpectMsgAsync<string>();
        deliverer.Tell("snapshot", null);
        var snapshot = await probe.ExpectMsgAsync<AtLeastOnceDeliverySnapshot>();

        // What a snapshot store keeps: the manifest and the bytes.
        var serialization = system.Persistence().Serialization;
        var stored = serialization.Serialize(snapshot);
        var back = Assert.IsType<AtLeastOnceDeliverySnapshot>(serialization.Deserialize(stored.Manifest, stored.Data));

        Assert.Equal("recall.delivery-snapshot.v1", stored.Manifest);
        Assert.Equal(snapshot.NextDeliveryId, back.NextDeliveryId);
        Assert.Equal(snapshot.Unconfirmed, back.Unconfirmed); // messages back as Msg, destinations as the same ref
        Assert.Same(destination.Ref, back.Unconfirmed[0].Destination);
        Assert.Equal(new Msg(1, "1"), back.Unconfirmed[0].Message);
    }

    /// <summary>Delivers without persisting, to test the bookkeeping alone.</summary>
    private sealed class BareDeliverer(string id, IActorRef destination, IActorRef observer, AtLeastOnceDeliveryOptions options) : AtLeastOnceDeliveryActor
    {
        public override string PersistenceId => id;

        protected override AtLeastOnceDeliveryOptions DeliveryOptions { get; } = options;

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case int n:
                    try
                    {
                        Deliver(destination, deliveryId => new Msg(deliveryId, n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                        observer.Tell("delivered", null);
                    }
                    catch (MaxUnconfirmedMessagesExceededException exception)
                    {
                        observer.Tell(exception, null);
                    }

                    break;
                case "snapshot":
                    observer.Tell(GetDeliverySnapshot(), null);
                    break;
                case AtLeastOnceDeliverySnapshot snapshot:
                    SetDeliverySnapshot(snapshot);
                    break;
                default:
                    Unhandled(command);
                    break;
            }
        }

        protected override void ReceiveRecover(object message)
        {
        }
    }

    /// <summary>Between sender and destination: drops, duplicates and reorders at random.</summary>
    private sealed class LossyNetwork(Random random) : Actor
    {
        private readonly List<(object Message, IActorRef Sender)> _held = [];
        private IActorRef? _destination;

        protected override void Receive(object message)
        {
            if (message is IActorRef destination)
            {
                _destination = destination;
                return;
            }

            var roll = random.Next(10);
            if (roll < 3)
            {
                return; // dropped
            }

            if (roll < 5)
            {
                _held.Add((message, Sender)); // delivered later, out of order
                return;
            }

            _destination!.Tell(message, Sender);
            if (roll == 9)
            {
                _destination.Tell(message, Sender); // duplicated
            }

            foreach (var (held, heldSender) in _held)
            {
                _destination.Tell(held, heldSender);
            }

            _held.Clear();
        }
    }

    private static async Task<object?> TryReceiveAsync(TestProbe probe)
    {
        try
        {
            return await probe.ExpectMsgAsync<object>(timeout: TimeSpan.FromMilliseconds(50));
        }
        catch (TestKitException)
        {
            return null;
        }
    }

    private static async Task AwaitUnconfirmedAsync(IActorRef sender, int expected, FakeTimeProvider? clock = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var count = await sender.Ask<int>(new GetUnconfirmed(), TimeSpan.FromSeconds(5));
            if (count == expected)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{count} deliveries unconfirmed, expected {expected}");
            clock?.Advance(Interval);
            await Task.Delay(20);
        }
    }

}
