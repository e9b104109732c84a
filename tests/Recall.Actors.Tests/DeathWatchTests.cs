using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class DeathWatchTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed record WatchIt(IActorRef Subject);

    private sealed record UnwatchIt(IActorRef Subject);

    /// <summary>Watches and unwatches on command and reports every Terminated (and "ping") to the probe.</summary>
    private sealed class Watcher(IActorRef probe) : Actor
    {
        protected override void Receive(object message)
        {
            switch (message)
            {
                case WatchIt watch:
                    Context.Watch(watch.Subject);
                    Sender.Tell("watching", Self);
                    break;
                case UnwatchIt unwatch:
                    Context.Unwatch(unwatch.Subject);
                    Sender.Tell("unwatched", Self);
                    break;
                default:
                    probe.Tell(message, Sender);
                    break;
            }
        }
    }

    /// <summary>Watches the subject and handles nothing, so its Terminated is unhandled.</summary>
    private sealed class CarelessWatcher(IActorRef subject) : Actor
    {
        protected override void PreStart() => Context.Watch(subject);

        protected override void Receive(object message) => Unhandled(message);
    }

    private sealed class Idle : Actor
    {
        protected override void Receive(object message)
        {
            if (message is "stop")
            {
                Context.Stop(Self);
            }
        }
    }

    [Fact]
    public async Task A_watcher_gets_Terminated_after_the_subject_stops()
    {
        var probe = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()), "subject");
        var watcher = _system.Spawn(Props.Create(() => new Watcher(probe.Ref)));
        Assert.Equal("watching", await watcher.Ask<string>(new WatchIt(subject), TimeSpan.FromSeconds(5)));

        subject.Tell("stop", null);

        var terminated = await probe.ExpectMsgAsync<Terminated>();
        Assert.Same(subject, terminated.Actor);
        Assert.Same(subject, probe.LastSender);
        await probe.ExpectNoMsgAsync(); // exactly once
    }

    [Fact]
    public async Task A_parent_watching_its_child_gets_Terminated_once()
    {
        var probe = new TestProbe(_system);
        var parent = _system.Spawn(Props.Create(() => new ChildWatcher(probe.Ref)));
        var child = await probe.ExpectMsgAsync<IActorRef>();

        child.Tell("stop", null);

        Assert.Same(child, (await probe.ExpectMsgAsync<Terminated>()).Actor);
        await probe.ExpectNoMsgAsync();
        GC.KeepAlive(parent);
    }

    private sealed class ChildWatcher(IActorRef probe) : Actor
    {
        protected override void PreStart() => probe.Tell(Context.Watch(Context.Spawn(Props.Create(() => new Idle()), "child")), Self);

        protected override void Receive(object message) => probe.Tell(message, Self);
    }

    /// <summary>Sends numbers to the target, then stops.</summary>
    private sealed class Chatty(IActorRef target, int count) : Actor
    {
        protected override void Receive(object message)
        {
            for (var i = 0; i < count; i++)
            {
                target.Tell(i);
            }

            Context.Stop(Self);
        }
    }

    [Fact]
    public async Task Terminated_arrives_after_every_message_the_dead_actor_sent_to_the_watcher()
    {
        var probe = new TestProbe(_system);
        var watcher = _system.Spawn(Props.Create(() => new Watcher(probe.Ref)));
        var chatty = _system.Spawn(Props.Create(() => new Chatty(watcher, 1000)));
        await watcher.Ask<string>(new WatchIt(chatty), TimeSpan.FromSeconds(5));

        chatty.Tell("go", null);

        for (var i = 0; i < 1000; i++)
        {
            await probe.ExpectMsgAsync(i);
        }

        Assert.Same(chatty, (await probe.ExpectMsgAsync<Terminated>()).Actor);
    }

    [Fact]
    public async Task Watching_an_actor_that_already_stopped_gives_Terminated_at_once()
    {
        var probe = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        probe.Watch(subject);
        subject.Tell("stop", null);
        await probe.ExpectTerminatedAsync(subject);

        var lateProbe = new TestProbe(_system);
        lateProbe.Watch(subject);
        await lateProbe.ExpectTerminatedAsync(subject);

        var watcher = _system.Spawn(Props.Create(() => new Watcher(probe.Ref)));
        await watcher.Ask<string>(new WatchIt(subject), TimeSpan.FromSeconds(5));
        Assert.Same(subject, (await probe.ExpectMsgAsync<Terminated>()).Actor);
    }

    [Fact]
    public async Task Watching_the_dead_letters_ref_gives_Terminated_at_once()
    {
        var probe = new TestProbe(_system);

        probe.Watch(_system.DeadLetters);

        await probe.ExpectTerminatedAsync(_system.DeadLetters);
    }

    [Fact]
    public async Task After_Unwatch_no_Terminated_arrives()
    {
        var probe = new TestProbe(_system);
        var other = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        var watcher = _system.Spawn(Props.Create(() => new Watcher(probe.Ref)));
        await watcher.Ask<string>(new WatchIt(subject), TimeSpan.FromSeconds(5));
        await watcher.Ask<string>(new UnwatchIt(subject), TimeSpan.FromSeconds(5));
        other.Watch(subject);

        subject.Tell("stop", null);
        await other.ExpectTerminatedAsync(subject);
        watcher.Tell("ping", null);

        await probe.ExpectMsgAsync("ping");
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    /// <summary>A <see cref="Watcher"/> that can be held, to let a Terminated queue up behind other messages.</summary>
    private sealed class HoldableWatcher(IActorRef probe) : HoldableActor
    {
        protected override void Receive(object message)
        {
            if (TryHold(message))
            {
                return;
            }

            switch (message)
            {
                case WatchIt watch:
                    Context.Watch(watch.Subject);
                    Sender.Tell("watching", Self);
                    break;
                case UnwatchIt unwatch:
                    Context.Unwatch(unwatch.Subject);
                    probe.Tell("unwatched", Self);
                    break;
                default:
                    probe.Tell(message, Sender);
                    break;
            }
        }
    }

    [Fact]
    public async Task After_Unwatch_a_Terminated_that_was_already_queued_is_not_delivered()
    {
        var probe = new TestProbe(_system);
        var other = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        var watcher = _system.Spawn(Props.Create(() => new HoldableWatcher(probe.Ref)));
        await watcher.Ask<string>(new WatchIt(subject), TimeSpan.FromSeconds(5));
        var gate = new Gate();
        watcher.Tell(new Hold(gate.Task, probe.Ref), null);
        await probe.ExpectMsgAsync("holding");
        watcher.Tell(new UnwatchIt(subject), null);
        other.Watch(subject);

        subject.Tell("stop", null); // its Terminated is queued behind the unwatch
        await other.ExpectTerminatedAsync(subject);

        // The watcher's mailbox holds the unwatch, then its Terminated: the scenario this test is about.
        var mailbox = ((Recall.Actors.Internal.LocalActorRef)watcher).Cell;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (mailbox.MailboxDepth < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the watcher never queued its Terminated");
            await Task.Delay(5);
        }

        gate.Open();

        await probe.ExpectMsgAsync("unwatched");
        watcher.Tell("ping", null);
        await probe.ExpectMsgAsync("ping");
        await probe.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task An_unhandled_Terminated_fails_the_watcher_with_DeathPactException_and_stops_it()
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        var parent = _system.Spawn(Props.Create(() => new Parent(Strategies.ReportingDefault(failures.Ref))));
        var careless = await parent.SpawnChildAsync(Props.Create(() => new CarelessWatcher(subject)));
        probe.Watch(careless);

        subject.Tell("stop", null); // before or after the watch registers: Terminated comes either way

        var error = await failures.ExpectMsgAsync<DeathPactException>();
        Assert.Same(subject, error.DeadActor);
        Assert.Contains(subject.Path.ToString(), error.Message, StringComparison.Ordinal);
        await probe.ExpectTerminatedAsync(careless);
    }

    [Fact]
    public async Task PoisonPill_stops_the_actor_and_its_watchers_learn_of_it()
    {
        var probe = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        probe.Watch(subject);

        subject.Tell(PoisonPill.Instance, null);

        await probe.ExpectTerminatedAsync(subject);
    }

    [Fact]
    public async Task Messages_to_a_stopped_actor_become_dead_letters()
    {
        var probe = new TestProbe(_system);
        var subject = _system.Spawn(Props.Create(() => new Idle()));
        probe.Watch(subject);
        subject.Tell(PoisonPill.Instance, null);
        await probe.ExpectTerminatedAsync(subject);
        var before = _system.DeadLetterCount;

        for (var i = 0; i < 5; i++)
        {
            subject.Tell(i, probe.Ref);
        }

        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 5, "five dead letters are counted");
    }
}
