using Recall.Actors;

namespace Recall.TestKit.Tests;

public sealed class TestProbeTests : IAsyncLifetime
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(200);
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed class Echo : Actor
    {
        protected override void Receive(object message) => Sender.Tell(message, Self);
    }

    private sealed class Idle : Actor
    {
        protected override void Receive(object message)
        {
        }
    }

    [Fact]
    public void A_probe_is_a_named_system_actor()
    {
        var probe = new TestProbe(_system, "my-probe");

        Assert.Equal("recall://test/system/my-probe", probe.Ref.Path.ToString());
        Assert.Same(_system, probe.System);
        Assert.Null(probe.LastSender);
    }

    [Fact]
    public async Task ExpectMsgAsync_returns_the_next_message_and_remembers_its_sender()
    {
        var probe = new TestProbe(_system);
        var echo = _system.Spawn(Props.Create(() => new Echo()));

        probe.Send(echo, "hello");

        Assert.Equal("hello", await probe.ExpectMsgAsync<string>());
        Assert.Same(echo, probe.LastSender);
    }

    [Fact]
    public async Task ExpectMsgAsync_takes_messages_in_arrival_order()
    {
        var probe = new TestProbe(_system);

        probe.Ref.Tell(1, null);
        probe.Ref.Tell(2, null);

        await probe.ExpectMsgAsync(1);
        await probe.ExpectMsgAsync(2);
    }

    [Fact]
    public async Task ExpectMsgAsync_of_the_wrong_type_fails_naming_both()
    {
        var probe = new TestProbe(_system);
        probe.Ref.Tell(42, null);

        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync<string>());

        Assert.Contains("String", error.Message, StringComparison.Ordinal);
        Assert.Contains("Int32 42", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectMsgAsync_with_a_predicate_fails_when_it_does_not_match()
    {
        var probe = new TestProbe(_system);
        probe.Ref.Tell("apple", null);
        probe.Ref.Tell("banana", null);

        Assert.Equal("apple", await probe.ExpectMsgAsync<string>(s => s.StartsWith('a')));
        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync<string>(s => s.StartsWith('a')));
        Assert.Contains("banana", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectMsgAsync_of_a_value_fails_when_it_differs()
    {
        var probe = new TestProbe(_system);
        probe.Ref.Tell("actual", null);

        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync("expected"));

        Assert.Contains("expected", error.Message, StringComparison.Ordinal);
        Assert.Contains("actual", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectMsgAsync_times_out_with_a_clear_message()
    {
        var probe = new TestProbe(_system, "lonely");

        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectMsgAsync<string>(timeout: Short));

        Assert.Contains("Timed out", error.Message, StringComparison.Ordinal);
        Assert.Contains("String", error.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/system/lonely", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectMsgAsync_waits_for_a_message_that_arrives_later()
    {
        var probe = new TestProbe(_system);

        var expectation = probe.ExpectMsgAsync<string>();
        await Task.Delay(50);
        probe.Ref.Tell("late", null);

        Assert.Equal("late", await expectation);
    }

    [Fact]
    public async Task ExpectNoMsgAsync_passes_when_nothing_arrives()
    {
        var probe = new TestProbe(_system);

        await probe.ExpectNoMsgAsync(Short);

        probe.Ref.Tell("after", null);
        await probe.ExpectMsgAsync("after"); // the probe still works afterwards
    }

    [Fact]
    public async Task ExpectNoMsgAsync_fails_when_a_message_arrives()
    {
        var probe = new TestProbe(_system);
        probe.Ref.Tell("unexpected", null);

        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectNoMsgAsync(Short));

        Assert.Contains("unexpected", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectNoMsgAsync_fails_when_a_message_arrives_during_the_wait()
    {
        var probe = new TestProbe(_system);

        var expectation = probe.ExpectNoMsgAsync(TimeSpan.FromSeconds(2));
        probe.Ref.Tell("during", null);

        await Assert.ThrowsAsync<TestKitException>(() => expectation);
    }

    [Fact]
    public async Task FishForMessageAsync_skips_messages_until_one_matches()
    {
        var probe = new TestProbe(_system);
        var echo = _system.Spawn(Props.Create(() => new Echo()));
        probe.Ref.Tell("noise", null);
        probe.Ref.Tell(1, null);
        probe.Ref.Tell(2, echo);
        probe.Ref.Tell(3, null);

        Assert.Equal(2, await probe.FishForMessageAsync<int>(n => n % 2 == 0));
        Assert.Same(echo, probe.LastSender);
        await probe.ExpectMsgAsync(3); // what came after the match is still there
    }

    [Fact]
    public async Task FishForMessageAsync_times_out_when_nothing_matches()
    {
        var probe = new TestProbe(_system);
        probe.Ref.Tell(1, null);

        var error = await Assert.ThrowsAsync<TestKitException>(() => probe.FishForMessageAsync<int>(n => n > 1, Short));

        Assert.Contains("Timed out", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpectTerminatedAsync_sees_a_watched_actor_stop()
    {
        var probe = new TestProbe(_system);
        var idle = _system.Spawn(Props.Create(() => new Idle()));
        probe.Watch(idle);

        _system.Stop(idle);

        Assert.Same(idle, (await probe.ExpectTerminatedAsync(idle)).Actor);
    }

    [Fact]
    public async Task ExpectTerminatedAsync_fails_for_another_actor()
    {
        var probe = new TestProbe(_system);
        var idle = _system.Spawn(Props.Create(() => new Idle()));
        var other = _system.Spawn(Props.Create(() => new Idle()));
        probe.Watch(idle);
        _system.Stop(idle);

        await Assert.ThrowsAsync<TestKitException>(() => probe.ExpectTerminatedAsync(other));
    }

    [Fact]
    public async Task Reply_answers_the_last_sender()
    {
        var probe = new TestProbe(_system);
        var asker = new TestProbe(_system);
        asker.Send(probe.Ref, "question");
        await probe.ExpectMsgAsync("question");

        probe.Reply("answer");

        await asker.ExpectMsgAsync("answer");
        Assert.Same(probe.Ref, asker.LastSender);
    }

    [Fact]
    public async Task Reply_serves_an_ask()
    {
        var probe = new TestProbe(_system);

        var ask = probe.Ref.Ask<string>("question", TimeSpan.FromSeconds(5));
        await probe.ExpectMsgAsync("question");
        probe.Reply("answer");

        Assert.Equal("answer", await ask);
    }

    [Fact]
    public void Reply_before_any_message_is_an_error()
    {
        var probe = new TestProbe(_system);

        Assert.Throws<InvalidOperationException>(() => probe.Reply("nobody"));
    }

    [Fact]
    public void The_blocking_twins_behave_like_the_async_forms()
    {
        var probe = new TestProbe(_system);
        var idle = _system.Spawn(Props.Create(() => new Idle()));
        probe.Ref.Tell("one", null);
        probe.Ref.Tell(2, null);
        probe.Ref.Tell("x", null);
        probe.Ref.Tell(3, null);

        Assert.Equal("one", probe.ExpectMsg<string>());
        Assert.Equal(2, probe.ExpectMsg(2));
        Assert.Equal(3, probe.FishForMessage<int>(n => n == 3));
        probe.ExpectNoMsg(Short);
        Assert.Throws<TestKitException>(() => probe.ExpectMsg<string>(timeout: Short));

        probe.Watch(idle);
        _system.Stop(idle);
        Assert.Same(idle, probe.ExpectTerminated(idle).Actor);

        probe.Ref.Tell("surprise", null);
        Assert.Throws<TestKitException>(() => probe.ExpectNoMsg(Short));
    }
}
