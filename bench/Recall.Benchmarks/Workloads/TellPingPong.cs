using Recall.Actors;

namespace Recall.Benchmarks.Workloads;

/// <summary>
/// tell-pingpong: two plain actors, one ball in flight, N = 1,000,000 messages in total (N/2 round
/// trips). Timed from the Start message to the pinger until the pinger has received its last
/// reply, as in the Akka.NET and Proto.Actor anchors.
/// </summary>
internal sealed class TellPingPong(BenchOptions options) : IWorkload
{
    public string Name => "tell-pingpong";

    public IReadOnlyList<string> Stores { get; } = ["none"];

    public long N { get; } = Math.Max(2, 1_000_000 / options.ScaleDown) / 2 * 2;

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var system = context.CreateSystem();
        var failures = new FailureLog();
        var roundTrips = N / 2;
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var replies = new Tally();
        var received = new Tally();
        var ponger = system.Spawn(Props.Create(() => new Ponger(replies, failures)), "ponger");
        var pinger = system.Spawn(Props.Create(() => new Pinger(ponger, roundTrips, received, done, failures)), "pinger");

        var clock = RunClock.StartNew();
        pinger.Tell(Start.Instance, null);
        var delivered = await Check.Within(done.Task, TimeSpan.FromMinutes(5), "ping-pong");
        clock.Stop();

        // After termination every turn has finished: the counts are final.
        await system.TerminateAsync();
        failures.CheckNone();
        var state = $"delivered {delivered}, pinger received {Volatile.Read(ref received.Value)}, ponger replied {Volatile.Read(ref replies.Value)}, {system.DeadLetterCount} dead letters; expected {N} messages";
        Check.That(delivered == N, state);
        Check.That(Volatile.Read(ref received.Value) == roundTrips, state);
        Check.That(Volatile.Read(ref replies.Value) == roundTrips, state);
        Check.That(system.DeadLetterCount == 0, state);
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["cpu_seconds"] = clock.Cpu.TotalSeconds });
    }

    private sealed class Ponger(Tally replies, FailureLog failures) : CheckedActor(failures)
    {
        private long _replies;

        protected override void PostStop() => replies.Value = _replies;

        protected override void Receive(object message)
        {
            if (message is Ball)
            {
                _replies++;
                Sender.Tell(message, Self);
            }
            else
            {
                Unhandled(message);
            }
        }
    }

    private sealed class Pinger(IActorRef ponger, long roundTrips, Tally received, TaskCompletionSource<long> done, FailureLog failures) : CheckedActor(failures)
    {
        private long _received;

        protected override void PostStop() => received.Value = _received;

        protected override void Receive(object message)
        {
            if (message is Ball)
            {
                // a ball came back: one ping and one pong delivered
                if (++_received == roundTrips)
                {
                    done.TrySetResult(_received * 2);
                }
                else
                {
                    ponger.Tell(Ball.Instance, Self);
                }
            }
            else if (message is Start)
            {
                ponger.Tell(Ball.Instance, Self);
            }
            else
            {
                Unhandled(message);
            }
        }
    }
}
