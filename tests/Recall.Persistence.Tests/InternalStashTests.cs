using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>The bounded internal stash of commands that wait for a Persist handler.</summary>
public sealed class InternalStashTests
{
    [Fact]
    public async Task Under_Fail_a_command_beyond_the_capacity_fails_the_actor_with_StashOverflowException()
    {
        await using var h = PersistenceHarness.Create(p => p.InternalStashCapacity = 2);
        var parent = h.System.Spawn(Props.Create(() => new StoppingParent(Recorder.Props("st-1", h.Log.Ref), h.Log.Ref)));
        await h.Log.ExpectMsgAsync(new Recovered(0, ""));
        h.Journal.StallWrites(times: 1);

        parent.Tell(new Cmd("c1", Persist("e1")));
        await h.Log.ExpectMsgAsync(new Received("c1"));
        await h.Journal.WaitForStalledAsync();
        parent.Tell(new Cmd("c2"));
        parent.Tell(new Cmd("c3"));
        await h.Log.ExpectNoMsgAsync(); // two commands fit
        parent.Tell(new Cmd("c4"));

        var failed = await h.Log.ExpectMsgAsync<ChildFailed>();
        var overflow = Assert.IsType<StashOverflowException>(failed.Cause);
        Assert.Equal(2, overflow.Capacity);
        Assert.Equal("child", overflow.Actor.Name);

        h.Journal.ReleaseStalled();
        await h.Log.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // stopped: no handler, no stashed command runs
    }

    [Fact]
    public async Task Under_Drop_a_command_beyond_the_capacity_goes_to_dead_letters_and_the_actor_goes_on()
    {
        await using var h = PersistenceHarness.Create(p =>
        {
            p.InternalStashCapacity = 2;
            p.InternalStashOverflow = StashOverflowStrategy.Drop;
        });
        var (actor, _) = await h.SpawnRecoveredAsync("st-2");
        var sender = new TestProbe(h.System);
        h.Journal.StallWrites(times: 1);

        actor.Tell(new Cmd("c1", Persist("e1")), sender.Ref);
        await h.Log.ExpectMsgAsync(new Received("c1"));
        await h.Journal.WaitForStalledAsync();
        var deadLetters = h.System.DeadLetterCount;
        actor.Tell(new Cmd("c2", Note("c2")), sender.Ref);
        actor.Tell(new Cmd("c3", Note("c3")), sender.Ref);
        actor.Tell(new Cmd("c4", Note("c4")), sender.Ref);
        await Eventually(() => h.System.DeadLetterCount == deadLetters + 1);

        h.Journal.ReleaseStalled();
        await h.Log.ExpectMsgAsync(new Handled("e1", 1));
        await h.Log.ExpectMsgAsync(new Received("c2"));
        await h.Log.ExpectMsgAsync(new Noted("c2"));
        await h.Log.ExpectMsgAsync(new Received("c3"));
        await h.Log.ExpectMsgAsync(new Noted("c3"));
        actor.Tell(new Cmd("c5", Persist("e5")), sender.Ref);
        await h.Log.ExpectMsgAsync(new Received("c5"));
        await h.Log.ExpectMsgAsync(new Handled("e5", 2));
        Assert.Equal(deadLetters + 1, h.System.DeadLetterCount);
    }

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.DefaultTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(10);
        }
    }
}
