using System.Collections.Concurrent;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class LifecycleTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    /// <summary>Records every hook, numbered by instance, into a shared queue.</summary>
    private sealed class Recorder : Actor
    {
        private static int s_instances;
        private readonly ConcurrentQueue<string> _log;
        private readonly int _instance;

        public Recorder(ConcurrentQueue<string> log)
        {
            _log = log;
            _instance = Interlocked.Increment(ref s_instances);
            _log.Enqueue($"ctor#{_instance}");
        }

        public static void Reset() => s_instances = 0;

        protected override void PreStart() => _log.Enqueue($"PreStart#{_instance}");

        protected override void PostStop() => _log.Enqueue($"PostStop#{_instance}");

        protected override void PreRestart(Exception reason, object? message)
        {
            _log.Enqueue($"PreRestart#{_instance}({reason.Message}, {message})");
            base.PreRestart(reason, message);
        }

        protected override void PostRestart(Exception reason)
        {
            _log.Enqueue($"PostRestart#{_instance}({reason.Message})");
            base.PostRestart(reason);
        }

        protected override void Receive(object message)
        {
            switch (message)
            {
                case "fail":
                    throw new InvalidOperationException("boom");
                default:
                    _log.Enqueue($"Receive#{_instance}({message})");
                    Sender.Tell(message, Self);
                    break;
            }
        }
    }

    [Fact]
    public async Task Hooks_run_in_order_constructor_PreStart_PreRestart_PostRestart_PostStop()
    {
        Recorder.Reset();
        var log = new ConcurrentQueue<string>();
        var probe = new TestProbe(_system);
        var actor = _system.Spawn(Props.Create(() => new Recorder(log)), "recorder");
        probe.Watch(actor);

        probe.Send(actor, "one");
        await probe.ExpectMsgAsync("one");
        probe.Send(actor, "fail");
        probe.Send(actor, "two");
        await probe.ExpectMsgAsync("two");
        _system.Stop(actor);
        await probe.ExpectTerminatedAsync(actor);

        Assert.Equal(
            [
                "ctor#1", "PreStart#1", "Receive#1(one)",
                "PreRestart#1(boom, fail)", "PostStop#1", // the default PreRestart calls PostStop
                "ctor#2", "PostRestart#2(boom)", "PreStart#2", // the default PostRestart calls PreStart
                "Receive#2(two)", "PostStop#2",
            ],
            log);
    }

    private sealed class WithKid(IActorRef probe) : Actor
    {
        protected override void PreStart()
        {
            // A restarted instance reuses the name: the old child must be gone by now.
            probe.Tell(Context.Spawn(Props.Create(() => new Idle()), "kid"), Self);
        }

        protected override void Receive(object message) => throw new InvalidOperationException("restart me");
    }

    private sealed class Idle : Actor
    {
        protected override void Receive(object message) => Unhandled(message);
    }

    [Fact]
    public async Task Restart_waits_for_the_old_children_to_stop_so_their_names_can_be_reused()
    {
        var probe = new TestProbe(_system);
        var failures = new TestProbe(_system);
        var parent = _system.Spawn(Props.Create(() => new Parent(Strategies.Reporting(failures.Ref, Directive.Restart))));
        var actor = await parent.SpawnChildAsync(Props.Create(() => new WithKid(probe.Ref)), "with-kid");
        var firstKid = await probe.ExpectMsgAsync<IActorRef>();
        probe.Watch(firstKid);

        actor.Tell("fail", null);

        await failures.ExpectMsgAsync<InvalidOperationException>();
        // The old kid stopped (default PreRestart) and the new instance spawned a new one under the same name.
        var messages = new[] { await probe.ExpectMsgAsync<object>(), await probe.ExpectMsgAsync<object>() };
        Assert.Contains(messages, m => m is Terminated t && t.Actor == firstKid);
        var secondKid = Assert.Single(messages.OfType<IActorRef>());
        Assert.NotSame(firstKid, secondKid);
        Assert.Equal(firstKid.Path, secondKid.Path);
        await failures.ExpectNoMsgAsync(); // the restarted PreStart did not fail
    }
}
