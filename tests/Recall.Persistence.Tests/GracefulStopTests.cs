using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>GracefulStop: a persistent actor finishes the writes it started before it stops (what sharding's handoff relies on).</summary>
public sealed class GracefulStopTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_persistent_actor_stops_only_after_the_write_in_flight_is_stored_and_its_handler_ran(bool async)
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("gs-1");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        _h.Journal.StallWrites("gs-1", times: 1);
        actor.Tell(new Cmd("c1", async ? PersistAsync("a") : Persist("a")), null);
        await WaitUntilAsync(() => _h.Journal.StalledCount == 1);

        actor.Tell(GracefulStop.Instance, null);
        await watcher.ExpectNoMsgAsync(TestKitSettings.Dilated(TimeSpan.FromMilliseconds(150)));

        _h.Journal.ReleaseStalled();
        await _h.Log.ExpectMsgAsync<Received>();
        var handled = await _h.Log.ExpectMsgAsync<Handled>();
        Assert.Equal(("a", 1L), (handled.Event, handled.SequenceNumber));
        Assert.Equal(actor, (await watcher.ExpectMsgAsync<Terminated>()).Actor);
        Assert.Single(await _h.StoredAsync("gs-1"));
    }

    [Fact]
    public async Task A_command_sent_after_it_is_not_handled()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("gs-2");
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        actor.Tell(GracefulStop.Instance, null);
        actor.Tell(new Cmd("late", Persist("b")), null);

        await watcher.ExpectMsgAsync<Terminated>();
        await _h.Log.ExpectNoMsgAsync();
        Assert.Empty(await _h.StoredAsync("gs-2"));
    }

    [Fact]
    public async Task A_plain_actor_stops_as_on_a_poison_pill()
    {
        var actor = _h.System.Spawn(Props.Create(() => new Silent()));
        var watcher = new TestProbe(_h.System);
        watcher.Watch(actor);
        actor.Tell(GracefulStop.Instance, null);
        await watcher.ExpectMsgAsync<Terminated>();
    }

    private sealed class Silent : Actor
    {
        protected override void Receive(object message)
        {
        }
    }
}
