using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>Event adapters: upcasting old events on replay, one stored event to several or none, and tags.</summary>
public sealed class EventAdapterTests
{
    [Fact]
    public async Task A_read_adapter_upcasts_an_event_written_earlier_in_its_old_version()
    {
        var db = new SharedDatabase();
        await using (var old = PersistenceHarness.Create(p => p.Events.Register<DepositedV1>("x.v1"), store: db.Journal, name: "old"))
        {
            var (actor, _) = await old.SpawnRecoveredAsync("ea-1");
            actor.Tell(new Cmd("c", Persist(new DepositedV1(5)), Persist("plain")));
            await old.Log.ExpectMsgAsync(new Received("c"));
            await old.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 2);
        }

        var upcaster = new Upcaster();
        await using var current = PersistenceHarness.Create(
            p =>
            {
                p.Events.Register<DepositedV1>("x.v1").Register<DepositedV2>("x.v2");
                p.Adapters.AddRead<DepositedV1>(upcaster);
            },
            store: db.Journal,
            name: "current");
        current.Spawn("ea-1");

        await current.Log.ExpectMsgAsync(new Replayed(new DepositedV2(5, "EUR"), 1));
        await current.Log.ExpectMsgAsync(new Replayed("plain", 2));
        Assert.Equal(2, (await current.Log.ExpectMsgAsync<Recovered>()).LastSequenceNumber);
        Assert.Equal(["x.v1"], upcaster.Manifests);
    }

    [Fact]
    public async Task A_read_adapter_can_turn_one_stored_event_into_two_or_none()
    {
        await using var h = PersistenceHarness.Create(p =>
        {
            p.Events.Register<Pair>("test.pair").Register<Obsolete>("test.obsolete");
            p.Adapters.AddRead<Pair>(new Splitter()).AddRead<Obsolete>(new Dropper());
        });
        var (actor, _) = await h.SpawnRecoveredAsync("ea-2");
        actor.Tell(new Cmd("c", Persist(new Pair("x", "y")), Persist("z"), Persist(new Obsolete()), Persist("w")));
        await h.Log.ExpectMsgAsync(new Received("c"));
        await h.Log.ExpectMsgAsync(new Handled(new Pair("x", "y"), 1)); // the handler sees the persisted event itself
        await h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 4);
        await h.StopAsync(actor);

        h.Spawn("ea-2");

        await h.Log.ExpectMsgAsync(new Replayed("x", 1));
        await h.Log.ExpectMsgAsync(new Replayed("y", 1));
        await h.Log.ExpectMsgAsync(new Replayed("z", 2));
        await h.Log.ExpectMsgAsync(new Replayed("w", 4));
        await h.Log.ExpectMsgAsync(new Recovered(4, "x,y,z,w"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Tags_come_from_a_write_adapter_or_a_Tagged_wrapper_and_are_stored_with_the_event(bool withAdapter)
    {
        await using var h = PersistenceHarness.Create(p =>
        {
            p.Events.Register<Colored>("test.colored");
            if (withAdapter)
            {
                p.Adapters.AddWrite<Colored>(new TagByColor());
            }
        });
        var (actor, _) = await h.SpawnRecoveredAsync("ea-3");

        actor.Tell(new Cmd("c", Persist(new Colored("blue")), Persist(new Tagged("plain", "red", "green"))));
        await h.Log.ExpectMsgAsync(new Received("c"));
        await h.Log.FishForMessageAsync<Handled>(m => m.SequenceNumber == 2);

        var stored = await h.StoredAsync("ea-3");
        Assert.Equal(new Colored("blue"), stored[0].Payload);
        Assert.Equal(withAdapter ? ["blue"] : [], stored[0].Tags);
        Assert.Equal("plain", stored[1].Payload); // the wrapper is not stored, only its payload and tags
        Assert.Equal(["red", "green"], stored[1].Tags);

        await h.StopAsync(actor);
        h.Spawn("ea-3");
        await h.Log.ExpectMsgAsync(new Replayed(new Colored("blue"), 1));
        await h.Log.ExpectMsgAsync(new Replayed("plain", 2));
    }

    private sealed class Upcaster : IEventAdapter
    {
        public List<string> Manifests { get; } = [];

        public object ToJournal(object @event) => @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest)
        {
            Manifests.Add(manifest);
            return [new DepositedV2(((DepositedV1)stored).Amount, "EUR")];
        }
    }

    private sealed class Splitter : IEventAdapter
    {
        public object ToJournal(object @event) => @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest) => [((Pair)stored).First, ((Pair)stored).Second];
    }

    private sealed class Dropper : IEventAdapter
    {
        public object ToJournal(object @event) => @event;

        public IReadOnlyList<object> FromJournal(object stored, string manifest) => [];
    }

    private sealed class TagByColor : IEventAdapter
    {
        public object ToJournal(object @event) => new Tagged(@event, ((Colored)@event).Color);

        public IReadOnlyList<object> FromJournal(object stored, string manifest) => [stored];
    }
}

public sealed record DepositedV1(int Amount);

public sealed record DepositedV2(int Amount, string Currency);

public sealed record Pair(string First, string Second);

public sealed record Obsolete;

public sealed record Colored(string Color);
