using Microsoft.Extensions.Time.Testing;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class TellAndAskTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly ActorSystem _system;

    public TellAndAskTests() => _system = ActorSystem.Create("test", o => o.TimeProvider = _time);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed record Question(string Text);

    /// <summary>Replies to whoever sent the message, with what it says.</summary>
    private sealed class Responder : Actor
    {
        protected override void Receive(object message)
        {
            switch (message)
            {
                case "silence":
                    break;
                case "fail":
                    Sender.Tell(new Status.Failure(new FormatException("bad input")), Self);
                    break;
                case "number":
                    Sender.Tell(42, Self);
                    break;
                default:
                    Sender.Tell(message, Self);
                    break;
            }
        }
    }

    /// <summary>Forwards everything to the target, keeping the original sender.</summary>
    private sealed class Intermediary(IActorRef target) : Actor
    {
        protected override void Receive(object message) => target.Forward(message);
    }

    /// <summary>Tells its target with the implicit sender, or reports who sent it something.</summary>
    private sealed class ImplicitSender(IActorRef target) : Actor
    {
        protected override void Receive(object message) => target.Tell(message);
    }

    /// <summary>Tells the probe what Sender it saw.</summary>
    private sealed class SenderReporter(IActorRef probe) : Actor
    {
        protected override void Receive(object message) => probe.Tell(Sender, Self);
    }

    [Fact]
    public async Task Forward_keeps_the_original_sender_through_an_intermediary()
    {
        var probe = new TestProbe(_system);
        var responder = _system.Spawn(Props.Create(() => new Responder()), "responder");
        var intermediary = _system.Spawn(Props.Create(() => new Intermediary(responder)), "intermediary");

        probe.Send(intermediary, "hello");

        await probe.ExpectMsgAsync("hello");
        Assert.Same(responder, probe.LastSender); // the reply came straight from the responder to the probe
    }

    [Fact]
    public void Forward_outside_an_actor_is_an_error()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        Assert.Throws<InvalidOperationException>(() => responder.Forward("hello"));
    }

    [Fact]
    public async Task Inside_an_actor_Tell_sends_with_the_actor_as_sender()
    {
        var probe = new TestProbe(_system);
        var sender = _system.Spawn(Props.Create(() => new ImplicitSender(probe.Ref)), "implicit");

        sender.Tell("hi", null);

        await probe.ExpectMsgAsync("hi");
        Assert.Same(sender, probe.LastSender);
    }

    [Fact]
    public async Task Outside_an_actor_Tell_sends_without_sender_so_Sender_is_dead_letters()
    {
        var probe = new TestProbe(_system);
        var reporter = _system.Spawn(Props.Create(() => new SenderReporter(probe.Ref)));

        reporter.Tell("from outside");
        reporter.Tell("explicit none", null);

        Assert.Same(_system.DeadLetters, await probe.ExpectMsgAsync<IActorRef>());
        Assert.Same(_system.DeadLetters, await probe.ExpectMsgAsync<IActorRef>());
        Assert.Equal("recall://test/deadLetters", _system.DeadLetters.Path.ToString());
    }

    [Fact]
    public async Task A_reply_to_a_message_without_sender_becomes_a_dead_letter()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));
        var before = _system.DeadLetterCount;

        responder.Tell("anyone?");

        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 1, "the reply is counted as a dead letter");
    }

    [Fact]
    public void Tell_null_throws_ArgumentNullException()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        Assert.Throws<ArgumentNullException>(() => responder.Tell(null!, null));
        Assert.Throws<ArgumentNullException>(() => responder.Tell(null!));
        Assert.Throws<ArgumentNullException>(() => _system.DeadLetters.Tell(null!, null));
    }

    [Fact]
    public async Task Ask_returns_the_typed_reply()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        Assert.Equal(new Question("why?"), await responder.Ask<Question>(new Question("why?"), TimeSpan.FromSeconds(5)));
        Assert.Equal(42, await responder.Ask<int>("number", TimeSpan.FromSeconds(5)));
        Assert.Equal(42, await responder.Ask<object>("number", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Ask_without_reply_times_out_naming_the_target_and_the_message_type()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()), "mute");

        var ask = responder.Ask<string>("silence", TimeSpan.FromSeconds(5));
        _time.Advance(TimeSpan.FromSeconds(4.9));
        await Task.Delay(50);
        Assert.False(ask.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(0.1));

        var error = await Assert.ThrowsAsync<AskTimeoutException>(() => ask.WaitAsync(TestKitSettings.DefaultTimeout));
        Assert.Contains("recall://test/user/mute", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(String), error.Message, StringComparison.Ordinal);
        Assert.Equal(responder.Path, error.Target);
        Assert.Equal(typeof(string), error.MessageType);
        Assert.Equal(TimeSpan.FromSeconds(5), error.Timeout);
    }

    [Fact]
    public async Task Ask_honours_its_cancellation_token()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));
        using var cancellation = new CancellationTokenSource();

        var ask = responder.Ask<string>("silence", TimeSpan.FromSeconds(5), cancellation.Token);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ask.WaitAsync(TestKitSettings.DefaultTimeout));
    }

    [Fact]
    public async Task Ask_with_an_already_cancelled_token_throws_OperationCanceledException()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => responder.Ask<string>("hello", TimeSpan.FromSeconds(5), new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task Ask_answered_with_Status_Failure_throws_its_cause()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        var error = await Assert.ThrowsAsync<FormatException>(() => responder.Ask<string>("fail", TimeSpan.FromSeconds(5)));

        Assert.Equal("bad input", error.Message);
    }

    [Fact]
    public async Task Ask_answered_with_another_type_throws_InvalidCastException()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()), "typed");

        var error = await Assert.ThrowsAsync<InvalidCastException>(() => responder.Ask<string>("number", TimeSpan.FromSeconds(5)));

        Assert.Contains("String", error.Message, StringComparison.Ordinal);
        Assert.Contains("Int32", error.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/user/typed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ask_validates_its_arguments()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()));

        await Assert.ThrowsAsync<ArgumentNullException>(() => responder.Ask<string>(null!, TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => responder.Ask<string>("x", TimeSpan.Zero));
    }

    [Fact]
    public async Task Ask_sends_from_a_temporary_ref_that_takes_one_reply()
    {
        var probe = new TestProbe(_system);

        var ask = probe.Ref.Ask<string>("question", TimeSpan.FromSeconds(5));
        await probe.ExpectMsgAsync("question");
        var asker = probe.LastSender!;
        var before = _system.DeadLetterCount;
        probe.Reply("first");
        probe.Reply("second");

        Assert.Equal("first", await ask.WaitAsync(TestKitSettings.DefaultTimeout));
        Assert.StartsWith("recall://test/temp/ask-", asker.Path.ToString(), StringComparison.Ordinal);
        Assert.Equal(before + 1, _system.DeadLetterCount); // the second reply had nowhere to go
    }

    /// <summary>Throws on "crash"; stopped by its parent's strategy.</summary>
    private sealed class Crasher : Actor
    {
        protected override void Receive(object message) => throw new InvalidOperationException("the ledger is closed");
    }

    /// <summary>Supervises a <see cref="Crasher"/> that it stops on any failure.</summary>
    private sealed class StoppingParent : Actor
    {
        protected override SupervisorStrategy SupervisorStrategy => SupervisorStrategy.Stopping;

        private IActorRef? _child;

        protected override void PreStart() => _child = Context.Spawn(Props.Create(() => new Crasher()), "crasher");

        protected override void Receive(object message) => Sender.Tell(_child!, Self);
    }

    [Fact]
    public async Task An_ask_to_a_stopped_actor_fails_at_once_naming_it_instead_of_timing_out()
    {
        var responder = _system.Spawn(Props.Create(() => new Responder()), "gone");
        var watcher = new TestProbe(_system);
        watcher.Watch(responder);
        _system.Stop(responder);
        await watcher.ExpectTerminatedAsync(responder);

        // The fake clock never moves: only the dead letter can end this ask.
        var error = await Assert.ThrowsAsync<AskFailedException>(() => responder.Ask<object>(new Question("hello?"), TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal(responder.Path, error.Recipient);
        Assert.Equal(typeof(Question), error.MessageType);
        Assert.Equal($"Ask of Question to {responder.Path} failed at once: the message was not delivered: the actor has stopped.", error.Message);
    }

    [Fact]
    public async Task An_ask_to_an_actor_its_parent_stopped_after_a_failure_says_which_failure()
    {
        var parent = _system.Spawn(Props.Create(() => new StoppingParent()), "parent");
        var crasher = await parent.Ask<IActorRef>("your child?", TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(30));
        var watcher = new TestProbe(_system);
        watcher.Watch(crasher);
        crasher.Tell("crash", null);
        await watcher.ExpectTerminatedAsync(crasher);

        var error = await Assert.ThrowsAsync<AskFailedException>(() => crasher.Ask<object>("are you there?", TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Equal("the message was not delivered: it failed with InvalidOperationException: the ledger is closed", error.Reason);
    }

    [Fact]
    public async Task An_ask_whose_handler_throws_fails_at_once_with_that_exception_even_when_the_actor_restarts()
    {
        var crasher = _system.Spawn(Props.Create(() => new Crasher()), "restarting-crasher");

        // The fake clock never moves: only the failure can end this ask.
        var error = await Assert.ThrowsAsync<AskFailedException>(() => crasher.Ask<object>("crash", TimeSpan.FromSeconds(5)).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Equal("the actor failed handling it with InvalidOperationException: the ledger is closed", error.Reason);
        Assert.Equal(crasher.Path, error.Recipient);
    }
}
