namespace Recall.Persistence.Tests;

/// <summary>
/// Single writer across owners: an actor whose writes carry a fencing token cannot append once a
/// newer owner (a higher token) has written, even where its sequence numbers would still be free.
/// </summary>
public sealed class FencingTests
{
    private sealed record Stored(string Event, long SequenceNumber);

    private sealed record PersistFailed(Exception Cause);

    private sealed class Owner(string id, IActorRef probe) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is "ping")
            {
                probe.Tell("pong"); // recovered, and writes nothing
            }
            else if (command is string text)
            {
                Persist(text, e => probe.Tell(new Stored(e, LastSequenceNumber)));
            }
        }

        protected override void ReceiveRecover(object message)
        {
        }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNumber) => probe.Tell(new PersistFailed(cause));
    }

    [Fact]
    public async Task A_stale_owner_cannot_append_after_a_newer_owner_wrote_and_stops()
    {
        await using var system = ActorSystem.Create("fencing", o => o.UsePersistence(p => p.UseInMemory()));
        var persistence = system.Persistence();
        var probe = new TestProbe(system);
        var user = ActorPath.Root(system.Address).Child("user");

        // The first owner holds token 1 and writes.
        persistence.SetFencingToken(user.Child("old"), 1);
        var old = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "old");
        old.Tell("a", null);
        Assert.Equal(new Stored("a", 1), await probe.ExpectMsgAsync<Stored>());

        // It pauses; the lease passes to a new owner with token 2, which recovers and writes event 2.
        persistence.SetFencingToken(user.Child("new"), 2);
        var current = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "new");
        current.Tell("b", null);
        Assert.Equal(new Stored("b", 2), await probe.ExpectMsgAsync<Stored>());
        current.Tell("c", null);
        Assert.Equal(new Stored("c", 3), await probe.ExpectMsgAsync<Stored>());

        // The old owner wakes up and writes: refused by the journal, and it stops.
        probe.Watch(old);
        old.Tell("stale", null);
        var failed = await probe.ExpectMsgAsync<PersistFailed>();
        var fenced = Assert.IsType<FencedWriteException>(failed.Cause);
        Assert.Equal(("ledger", 1L), (fenced.PersistenceId, fenced.Token));
        await probe.ExpectTerminatedAsync(old);

        var stored = new List<string>();
        await foreach (var repr in persistence.Journal.ReplayAsync("ledger", 1, long.MaxValue, long.MaxValue, default))
        {
            stored.Add((string)repr.Payload);
        }

        Assert.Equal(["a", "b", "c"], stored);
    }

    [Fact]
    public async Task A_new_owner_fences_the_old_one_off_as_soon_as_it_starts_before_its_own_first_write()
    {
        await using var system = ActorSystem.Create("fencing", o => o.UsePersistence(p => p.UseInMemory()));
        var persistence = system.Persistence();
        var probe = new TestProbe(system);
        var user = ActorPath.Root(system.Address).Child("user");
        persistence.SetFencingToken(user.Child("old"), 1);
        var old = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "old");
        old.Tell("a", null);
        Assert.Equal(new Stored("a", 1), await probe.ExpectMsgAsync<Stored>());

        // The new owner recovers and writes nothing yet; the old one wakes up and writes event 2.
        persistence.SetFencingToken(user.Child("new"), 2);
        var current = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "new");
        current.Tell("ping", null); // handled after recovery
        Assert.Equal("pong", await probe.ExpectMsgAsync<string>());
        old.Tell("stale", null); // event 2 is free, and token 1 was the newest written: only the raised fence refuses it

        Assert.IsType<FencedWriteException>((await probe.ExpectMsgAsync<PersistFailed>()).Cause);
    }

    private sealed class Parent(IActorRef probe) : Actor
    {
        protected override void PreStart() => Context.Spawn(Props.Create(() => new Owner("child-ledger", probe)), "child");

        protected override void Receive(object message)
        {
            foreach (var child in Context.Children)
            {
                child.Tell(message, Sender);
            }
        }
    }

    [Fact]
    public async Task The_persistent_children_of_a_fenced_actor_write_with_its_token()
    {
        await using var system = ActorSystem.Create("fencing", o => o.UsePersistence(p => p.UseInMemory()));
        var persistence = system.Persistence();
        var probe = new TestProbe(system);
        var user = ActorPath.Root(system.Address).Child("user");
        persistence.SetFencingToken(user.Child("new"), 2);
        var current = system.Spawn(Props.Create(() => new Parent(probe.Ref)), "new");
        current.Tell("b", null);
        Assert.Equal(new Stored("b", 1), await probe.ExpectMsgAsync<Stored>());

        // An older owner's child, as a paused node would still run it, is refused: the child carried token 2.
        persistence.SetFencingToken(user.Child("old"), 1);
        var old = system.Spawn(Props.Create(() => new Parent(probe.Ref)), "old");
        old.Tell("stale", null);

        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));
        var stored = new List<string>();
        await foreach (var repr in persistence.Journal.ReplayAsync("child-ledger", 1, long.MaxValue, long.MaxValue, default))
        {
            stored.Add((string)repr.Payload);
        }

        Assert.Equal(["b"], stored);
    }

    [Fact]
    public async Task A_stale_owner_that_restarts_cannot_even_recover()
    {
        await using var system = ActorSystem.Create("fencing", o => o.UsePersistence(p => p.UseInMemory()));
        var persistence = system.Persistence();
        var probe = new TestProbe(system);
        var user = ActorPath.Root(system.Address).Child("user");
        persistence.SetFencingToken(user.Child("new"), 2);
        var current = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "new");
        current.Tell("b", null);
        Assert.Equal(new Stored("b", 1), await probe.ExpectMsgAsync<Stored>());

        persistence.SetFencingToken(user.Child("old"), 1);
        var old = system.Spawn(Props.Create(() => new Owner("ledger", probe.Ref)), "old");
        probe.Watch(old);

        await probe.ExpectTerminatedAsync(old);
    }

    [Fact]
    public async Task Without_a_token_an_actor_writes_unfenced()
    {
        await using var system = ActorSystem.Create("unfenced", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        system.Persistence().SetFencingToken(ActorPath.Parse("recall://unfenced/user/elsewhere"), 5);
        var owner = system.Spawn(Props.Create(() => new Owner("free", probe.Ref)), "owner");

        owner.Tell("a", null);

        Assert.Equal(new Stored("a", 1), await probe.ExpectMsgAsync<Stored>());
    }
}
