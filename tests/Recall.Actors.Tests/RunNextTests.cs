using System.Runtime.CompilerServices;
using Recall.TestKit;

namespace Recall.Actors.Tests;

/// <summary>
/// An actor woken by a turn runs right after that turn on the same thread (the run-next slot);
/// these tests check that it is never held back by the turn that woke it.
/// </summary>
public sealed class RunNextTests : IAsyncDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("run-next");

    public async ValueTask DisposeAsync() => await _system.TerminateAsync();

    [Fact]
    public async Task An_actor_woken_by_a_handler_that_then_blocks_waiting_for_it_still_runs()
    {
        // The handler tells an idle actor, then blocks its thread until that actor has handled the message:
        // the actor kept to run after the handler must be handed to another thread. Several rounds, as
        // the first may find the actor still finishing its start.
        var probe = new TestProbe(_system);
        var signaller = _system.Spawn(Props.Create(() => new Signaller()));
        var blocker = _system.Spawn(Props.Create(() => new BlockUntilSignalled(signaller)));

        for (var round = 0; round < 10; round++)
        {
            blocker.Tell("go", probe.Ref);
            Assert.Equal("signalled in time", await probe.ExpectMsgAsync<string>(timeout: TimeSpan.FromSeconds(20)));
        }
    }

    [Fact]
    public async Task Many_ping_pong_pairs_at_once_deliver_every_message_in_order()
    {
        const int pairs = 16, rounds = 20_000;
        var probe = new TestProbe(_system);
        for (var i = 0; i < pairs; i++)
        {
            var ponger = _system.Spawn(Props.Create(() => new Ponger()));
            var pinger = _system.Spawn(Props.Create(() => new Pinger(ponger, rounds, probe.Ref)));
            pinger.Tell(0, null);
        }

        for (var i = 0; i < pairs; i++)
        {
            Assert.Equal(rounds, await probe.ExpectMsgAsync<int>(timeout: TimeSpan.FromSeconds(60)));
        }
    }

    [Fact]
    public async Task A_burst_to_a_woken_actor_is_handled_while_the_sender_still_sends()
    {
        // The receiver is woken by the first message of a long burst: it must not wait for the whole burst.
        var probe = new TestProbe(_system);
        var counter = _system.Spawn(Props.Create(() => new Counter()));
        var sender = _system.Spawn(Props.Create(() => new BurstUntilCounted(counter, probe.Ref)));

        // The receiver has started and is idle, so the burst's first message wakes it from the sender's turn.
        var started = new StrongBox<long>();
        counter.Tell(started, null);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Volatile.Read(ref started.Value) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.Equal(1, Volatile.Read(ref started.Value));
        sender.Tell("go", null);

        var ended = await probe.ExpectMsgAsync<BurstEnded>(timeout: TimeSpan.FromSeconds(30));
        Assert.True(ended.Counted, $"the receiver counted nothing while the sender's handler sent {ended.Sent} messages");
    }

    private sealed class Signaller : Actor
    {
        protected override void Receive(object message) => ((ManualResetEventSlim)message).Set();
    }

    private sealed class BlockUntilSignalled(IActorRef signaller) : Actor
    {
        protected override void Receive(object message)
        {
            using var signalled = new ManualResetEventSlim();
            signaller.Tell(signalled, Self);
            Sender!.Tell(signalled.Wait(TimeSpan.FromSeconds(10)) ? "signalled in time" : "the woken actor did not run while the handler blocked", Self);
        }
    }

    private sealed class Ponger : Actor
    {
        protected override void Receive(object message) => Sender!.Tell(message, Self);
    }

    private sealed class Pinger(IActorRef ponger, int rounds, IActorRef report) : Actor
    {
        private int _expected;

        protected override void Receive(object message)
        {
            var n = (int)message;
            if (n != _expected)
            {
                report.Tell($"expected {_expected}, got {n}", Self);
                return;
            }

            if (n == rounds)
            {
                report.Tell(n, Self);
                return;
            }

            _expected = n + 1;
            ponger.Tell(n + 1, Self);
        }
    }

    private sealed class Counter : Actor
    {
        private long _count;

        protected override void Receive(object message)
        {
            _count++;
            ((StrongBox<long>)message).Value = _count;
        }
    }

    private sealed record BurstEnded(long Sent, bool Counted);

    private sealed class BurstUntilCounted(IActorRef counter, IActorRef report) : Actor
    {
        public const long Limit = 20_000_000;

        protected override void Receive(object message)
        {
            // Sends until the receiver counted one (or the limit, or 15 s): the receiver must run on
            // another thread meanwhile. On a loaded machine that thread needs a core: the sender yields
            // its own now and then, which lets it run but would not run an actor held in this thread's
            // run-next slot (that runs only after this handler).
            var counted = new StrongBox<long>();
            var deadline = Environment.TickCount64 + 15_000;
            long sent = 0;
            while (sent < Limit && Volatile.Read(ref counted.Value) == 0)
            {
                counter.Tell(counted, Self);
                if (++sent % 10_000 == 0)
                {
                    Thread.Yield();
                    if (Environment.TickCount64 > deadline)
                    {
                        break;
                    }
                }
            }

            report.Tell(new BurstEnded(sent, Volatile.Read(ref counted.Value) > 0), Self);
        }
    }
}
