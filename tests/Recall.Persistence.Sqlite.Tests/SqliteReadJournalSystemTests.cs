using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>The read journal of a system on SQLite: persistent actors write tagged events, a live stream by tag reads them as domain events.</summary>
public sealed class SqliteReadJournalSystemTests : IDisposable
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(15));
    private readonly TempDatabase _database = new();

    /// <summary>The domain event; stored as <see cref="ItemAddedV1"/> by the adapter.</summary>
    public sealed record ItemAdded(string Item);

    /// <summary>The stored form of <see cref="ItemAdded"/>.</summary>
    [EventType("cart.item-added.v1")]
    public sealed record ItemAddedV1(string Name);

    /// <summary>Persisted with a <see cref="Tagged"/> wrapper, no adapter.</summary>
    [EventType("cart.closed.v1")]
    public sealed record CartClosed(string Reason);

    public sealed record AddItem(string Item);

    public sealed record Close(string Reason);

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task A_live_stream_by_tag_of_the_system_delivers_the_actors_events_as_domain_events()
    {
        await using var system = ActorSystem.Create("carts", o => o.UsePersistence(p =>
        {
            p.UseSqlite(_database.Path).Events.Register<ItemAddedV1>().Register<CartClosed>();
            p.Adapters.AddWrite<ItemAdded>(new CartAdapter()).AddRead<ItemAddedV1>(new CartAdapter());

            // Far longer than the test: events can only arrive through the store's notification
            // of this process's writes.
            p.Query.PollInterval = TimeSpan.FromHours(1);
        }));
        // The system reads through a read store of its own over the journal's database.
        Assert.IsType<SqliteReadJournalStore>(system.Persistence().ReadJournalStore);
        var one = system.Spawn(Props.Create(() => new Cart("1")), "cart-1");
        var two = system.Spawn(Props.Create(() => new Cart("2")), "cart-2");
        Assert.Equal("ok", await one.Ask<string>(new AddItem("apple"), Timeout));

        using var cancel = new CancellationTokenSource(Timeout);
        var arrived = Channel.CreateUnbounded<EventEnvelope>();
        var reading = Task.Run(async () =>
        {
            await foreach (var envelope in system.Persistence().ReadJournal.EventsByTag("cart", Offset.Start, live: true, cancel.Token))
            {
                await arrived.Writer.WriteAsync(envelope, cancel.Token);
            }
        });

        var first = await arrived.Reader.ReadAsync(cancel.Token);
        Assert.Equal(("cart|1", 1L, new ItemAdded("apple")), (first.PersistenceId, first.SequenceNumber, first.Event));

        Assert.Equal("ok", await two.Ask<string>(new AddItem("pear"), Timeout));
        var second = await arrived.Reader.ReadAsync(cancel.Token);
        Assert.Equal(("cart|2", 1L, new ItemAdded("pear")), (second.PersistenceId, second.SequenceNumber, second.Event));

        Assert.Equal("ok", await one.Ask<string>(new Close("paid"), Timeout));
        var third = await arrived.Reader.ReadAsync(cancel.Token);
        Assert.Equal(("cart|1", 2L, new CartClosed("paid")), (third.PersistenceId, third.SequenceNumber, third.Event));

        Assert.All([first, second, third], e => Assert.Equal(["cart"], e.Tags));
        Assert.True(first.Offset < second.Offset && second.Offset < third.Offset);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);

        // The same events by slices of the entity type, and the stored form the read adapter turned into the domain event.
        var bySlices = new List<EventEnvelope>();
        await foreach (var envelope in system.Persistence().ReadJournal.EventsBySlices("cart", 0, Slices.Count - 1, Offset.Start, live: false))
        {
            bySlices.Add(envelope);
        }

        Assert.Equal([first.Offset, second.Offset, third.Offset], bySlices.Select(e => e.Offset));
        using var connection = new SqliteConnection($"Data Source={_database.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT manifest FROM journal WHERE persistence_id = 'cart|1' AND sequence_number = 1";
        Assert.Equal("cart.item-added.v1", command.ExecuteScalar());
    }

    [Fact]
    public async Task A_system_on_a_read_only_file_reads_another_systems_events_and_cannot_persist()
    {
        await using (var writer = ActorSystem.Create("writer", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.Register<CartClosed>())))
        {
            var cart = writer.Spawn(Props.Create(() => new Cart("1")), "cart-1");
            Assert.Equal("ok", await cart.Ask<string>(new Close("paid"), Timeout));
        }

        await using var reader = ActorSystem.Create("reader", o => o.UsePersistence(p => p.UseSqlite(s =>
        {
            s.Path = _database.Path;
            s.ReadOnly = true;
        }).Events.Register<CartClosed>()));
        var envelopes = new List<EventEnvelope>();
        await foreach (var envelope in reader.Persistence().ReadJournal.EventsByTag("cart", Offset.Start, live: false))
        {
            envelopes.Add(envelope);
        }

        Assert.Equal([("cart|1", 1L, (object)new CartClosed("paid"))], envelopes.Select(e => (e.PersistenceId, e.SequenceNumber, e.Event)));
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await reader.Persistence().Journal.WriteAsync([new AtomicWrite(new PersistentRepr("cart|2", 1, new CartClosed("no")))], default));
    }

    private sealed class CartAdapter : IEventAdapter
    {
        public object ToJournal(object @event) => @event is ItemAdded added ? new Tagged(new ItemAddedV1(added.Item), "cart") : @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest) => stored is ItemAddedV1 v1 ? [new ItemAdded(v1.Name)] : [stored];
    }

    private sealed class Cart(string id) : PersistentActor
    {
        public override string PersistenceId => Persistence.PersistenceId.Of("cart", id).Value;

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case AddItem add:
                    Persist(new ItemAdded(add.Item), _ => Sender.Tell("ok"));
                    break;
                case Close close:
                    Persist(new Tagged(new CartClosed(close.Reason), "cart"), _ => Sender.Tell("ok"));
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
}
