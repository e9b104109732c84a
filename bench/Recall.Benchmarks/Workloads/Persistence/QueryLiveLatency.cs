using System.Diagnostics;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// query-live-latency: one PersistentActor persists N = 10,000 tagged ints (a driver Tells the
/// commands in a burst, as persist-seq does; Persist, so one write at a time) while a live
/// EventsByTag stream of the system's read journal, started before the first command, reads them.
/// Each event's latency is the time from its Persist handler running to the stream delivering it;
/// <c>extra</c> reports p50, p99 and max in milliseconds, and how many events the stream delivered
/// before their handler ran (the store wakes live streams as soon as a write commits, and the
/// handler runs after the journal front passed the result on; those count as 0 ms, and
/// <c>p50_signed_ms</c> is the median without that floor). Timed: from
/// the first send until the stream delivered the last event. Checks: the stream delivered every
/// event once, in sequence order, with its value, and the journal holds N events.
/// </summary>
internal sealed class QueryLiveLatency(BenchOptions options) : IWorkload
{
    private const string Tag = "latency";

    public string Name => "query-live-latency";

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N { get; } = Math.Max(1, 10_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var count = (int)N;
        using var store = BenchStore.Fresh(context.Store, context.Options.Postgres);
        var system = context.CreateSystem(store.Configure);
        var handled = new long[count + 1];
        var arrived = new long[count + 1];
        var recovered = new Countdown(1);
        var applied = new Countdown(count);
        var writer = system.Spawn(Props.Create(() => new LatencyWriter("latency-1", handled, recovered, applied)), "latency-1");
        await Check.Within(recovered.Done, TimeSpan.FromMinutes(1), "writer recovered before the clock starts");

        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var readJournal = system.Persistence().ReadJournal;
        var reading = Task.Run(async () =>
        {
            var last = 0L;
            await foreach (var envelope in readJournal.EventsByTag(Tag, Offset.Start, live: true, cancel.Token))
            {
                var now = Stopwatch.GetTimestamp();
                Check.That(envelope.SequenceNumber == last + 1, $"the stream delivered event {envelope.SequenceNumber} after {last}");
                Check.That(envelope.Event is int value && value == envelope.SequenceNumber, $"event {envelope.SequenceNumber} holds {envelope.Event}");
                arrived[envelope.SequenceNumber] = now;
                last = envelope.SequenceNumber;
                if (last == count)
                {
                    break;
                }
            }

            return last;
        });

        var clock = RunClock.StartNew();
        for (var s = 1; s <= count; s++)
        {
            writer.Tell(s, null);
        }

        await Check.Within(applied.Done, TimeSpan.FromMinutes(15), $"{count} events persisted");
        var delivered = await Check.Within(reading, TimeSpan.FromMinutes(1), $"{count} events delivered by the live stream");
        clock.Stop();

        Check.That(delivered == count, $"the stream ended after {delivered} of {count} events");
        var highest = await system.Persistence().Journal.ReadHighestSequenceNumberAsync("latency-1", 0, CancellationToken.None);
        Check.That(highest == count, $"journal holds {highest} events, expected {count}");

        var ahead = 0;
        var latencies = new double[count];
        var signed = new double[count];
        for (var s = 1; s <= count; s++)
        {
            Check.That(handled[s] != 0 && arrived[s] != 0, $"event {s} has no handler or arrival time");
            var ticks = arrived[s] - handled[s];
            if (ticks < 0)
            {
                ahead++;
            }

            signed[s - 1] = ticks * 1000.0 / Stopwatch.Frequency;
            latencies[s - 1] = Math.Max(0, signed[s - 1]);
        }

        Array.Sort(latencies);
        Array.Sort(signed);
        await system.TerminateAsync();
        return new RunResult(clock.Elapsed, new Dictionary<string, double>
        {
            ["p50_ms"] = Percentile(latencies, 0.50),
            ["p99_ms"] = Percentile(latencies, 0.99),
            ["max_ms"] = latencies[^1],
            ["p50_signed_ms"] = Percentile(signed, 0.50),
            ["ahead_of_handler"] = ahead,
            ["cpu_seconds"] = clock.Cpu.TotalSeconds,
        });
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Persists each int it is told, tagged; its handler records when it ran.</summary>
    private sealed class LatencyWriter(string id, long[] handled, Countdown recovered, Countdown applied) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is int value)
            {
                Persist(new Tagged(value, Tag), _ =>
                {
                    handled[LastSequenceNumber] = Stopwatch.GetTimestamp();
                    applied.Signal();
                });
            }
            else
            {
                Unhandled(command);
            }
        }

        protected override void ReceiveRecover(object message)
        {
            if (message is RecoveryCompleted)
            {
                recovered.Signal();
            }
        }
    }
}
