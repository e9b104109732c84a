namespace Recall.Persistence.Tests;

/// <summary>Actor refs inside stored values are written as paths and read back as refs of the reading system.</summary>
public sealed class ActorRefSerializationTests
{
    [EventType("refs.subscribed.v1")]
    public sealed record Subscribed(IActorRef Subscriber, IReplyTo<string> ReplyTo, IActorRef<int> Counter);

    [Fact]
    public async Task Refs_inside_an_event_round_trip_and_still_reach_their_actors()
    {
        await using var system = ActorSystem.Create("refs", o => o.UsePersistence(p => p.UseInMemory()));
        var probe = new TestProbe(system);
        var serialization = system.Persistence().Serialization;

        var stored = serialization.Serialize(new Subscribed(probe.Ref, probe.Ref.As<string>(), probe.Ref.As<int>()));
        Assert.Contains(probe.Ref.Path.ToString(), System.Text.Encoding.UTF8.GetString(stored.Data), StringComparison.Ordinal);
        var back = (Subscribed)serialization.Deserialize(stored.Manifest, stored.Data);

        Assert.Same(probe.Ref, back.Subscriber);
        back.ReplyTo.Tell("hello");
        back.Counter.Tell(42);
        Assert.Equal("hello", await probe.ExpectMsgAsync<string>());
        Assert.Equal(42, await probe.ExpectMsgAsync<int>());
    }

    [Fact]
    public async Task A_ref_of_an_actor_that_no_longer_lives_reads_back_as_a_ref_of_dead_letters()
    {
        await using var system = ActorSystem.Create("refs", o => o.UsePersistence(p => p.UseInMemory()));
        var gone = new TestProbe(system);
        var watcher = new TestProbe(system);
        var serialization = system.Persistence().Serialization;
        var stored = serialization.Serialize(new Subscribed(gone.Ref, gone.Ref.As<string>(), gone.Ref.As<int>()));
        watcher.Watch(gone.Ref);
        system.Stop(gone.Ref);
        await watcher.ExpectTerminatedAsync(gone.Ref);

        var back = (Subscribed)serialization.Deserialize(stored.Manifest, stored.Data);
        var before = system.DeadLetterCount;
        back.Subscriber.Tell("anyone?", null);

        Assert.Equal(gone.Ref.Path, back.Subscriber.Path);
        Assert.Equal(before + 1, system.DeadLetterCount);
    }
}
