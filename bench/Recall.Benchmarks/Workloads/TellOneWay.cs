using Recall.Actors;

namespace Recall.Benchmarks.Workloads;

/// <summary>
/// tell-oneway: one sender actor Tells N = 10,000,000 messages (a preallocated singleton, no
/// sender) to one receiver in a loop inside its handler. Timed from the Start message to the
/// sender until the receiver has counted N, as in the anchors.
/// </summary>
internal sealed class TellOneWay(BenchOptions options) : IWorkload
{
    public string Name => "tell-oneway";

    public IReadOnlyList<string> Stores { get; } = ["none"];

    public long N { get; } = Math.Max(1, 10_000_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var system = context.CreateSystem();
        var failures = new FailureLog();
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new Tally();
        var sent = new Tally();
        var sink = system.Spawn(Props.Create(() => new Sink(N, received, done, failures)), "sink");
        var blaster = system.Spawn(Props.Create(() => new Blaster(sink, N, sent, failures)), "blaster");

        var clock = RunClock.StartNew();
        blaster.Tell(Start.Instance, null);
        var counted = await Check.Within(done.Task, TimeSpan.FromMinutes(5), "one-way");
        clock.Stop();

        // After termination every turn has finished: the counts are final (no extra message arrived).
        await system.TerminateAsync();
        failures.CheckNone();
        var state = $"sink counted {counted} and received {Volatile.Read(ref received.Value)}, blaster sent {Volatile.Read(ref sent.Value)}, {system.DeadLetterCount} dead letters; expected {N}";
        Check.That(counted == N, state);
        Check.That(Volatile.Read(ref received.Value) == N, state);
        Check.That(Volatile.Read(ref sent.Value) == N, state);
        Check.That(system.DeadLetterCount == 0, state);
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["cpu_seconds"] = clock.Cpu.TotalSeconds });
    }

    private sealed class Sink(long expected, Tally received, TaskCompletionSource<long> done, FailureLog failures) : CheckedActor(failures)
    {
        private long _count;

        protected override void Receive(object message)
        {
            if (message is Ball)
            {
                if (++_count == expected)
                {
                    done.TrySetResult(_count);
                }
            }
            else
            {
                Unhandled(message);
            }
        }

        protected override void PostStop() => received.Value = _count;
    }

    private sealed class Blaster(IActorRef target, long count, Tally sent, FailureLog failures) : CheckedActor(failures)
    {
        protected override void Receive(object message)
        {
            if (message is Start)
            {
                var t = target;
                var m = Ball.Instance;
                long i = 0;
                for (; i < count; i++)
                {
                    t.Tell(m, null);
                }

                Volatile.Write(ref sent.Value, i);
            }
            else
            {
                Unhandled(message);
            }
        }
    }
}
