using System.Diagnostics;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// query-live-latency on PostgreSQL: one PersistentActor persists N = 10,000 ints tagged "latency"
/// (all commands sent in a burst; Persist stashes the next command until the handler ran, so one
/// event per write) while a live EventsByTag stream of the same system's read journal, started
/// before the first command, reads them. An event's latency is the time from its Persist handler
/// running to the stream delivering it. The store wakes the stream when the write commits, and
/// the handler runs only after the journal front passed the result on, so the stream can deliver
/// first: such events count 0 ms (and are counted in <c>ahead_of_handler</c>). <c>extra</c>:
/// p50, p99 and max in ms. Timed: first send until the stream delivered the last event. Checks:
/// every event delivered once, in order, with its value; the journal holds N events.
/// </summary>
internal sealed class QueryLiveLatencyPostgres(BenchOptions options) : IWorkload
{
    private const string Tag = "latency";
    private const string Id = "latency-writer";

    public string Name => "query-live-latency";

    public IReadOnlyList<string> Stores { get; } = ["postgres"];

    public long N { get; } = Math.Max(1, 10_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var count = (int)N;
        using var store = BenchStore.Fresh(context.Store, context.Options.Postgres);
        var system = context.CreateSystem(store.Configure);
        var handledAt = new long[count + 1];
        var deliveredAt = new long[count + 1];
        var recovered = new Countdown(1);
        var applied = new Countdown(count);
        var writer = system.Spawn(Props.Create(() => new TaggingWriter(Id, handledAt, recovered, applied)), Id);
        await Check.Within(recovered.Done, TimeSpan.FromMinutes(1), "the writer recovered before the clock starts");

        // The stream runs (and its store listens) before the clock starts, as a projection would.
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = Task.Run(async () =>
        {
            long next = 1;
            await using var stream = system.Persistence().ReadJournal.EventsByTag(Tag, Offset.Start, live: true, cancel.Token).GetAsyncEnumerator(cancel.Token);
            var moving = stream.MoveNextAsync();
            started.TrySetResult();
            while (await moving)
            {
                var envelope = stream.Current;
                deliveredAt[Math.Min(envelope.SequenceNumber, count)] = Stopwatch.GetTimestamp();
                Check.That(envelope.SequenceNumber == next, $"the stream delivered event {envelope.SequenceNumber} where {next} was next");
                Check.That(envelope.Event is int value && value == next, $"event {next} holds {envelope.Event}");
                if (next++ == count)
                {
                    break;
                }

                moving = stream.MoveNextAsync();
            }

            return next - 1;
        });
        await started.Task;
        await Task.Delay(200);

        var clock = RunClock.StartNew();
        for (var value = 1; value <= count; value++)
        {
            writer.Tell(value, null);
        }

        await Check.Within(applied.Done, TimeSpan.FromMinutes(15), $"{count} events persisted");
        var delivered = await Check.Within(reading, TimeSpan.FromMinutes(1), $"{count} events delivered by the live stream");
        clock.Stop();

        Check.That(delivered == count, $"the stream delivered {delivered} of {count} events");
        var highest = await system.Persistence().Journal.ReadHighestSequenceNumberAsync(Id, 0, CancellationToken.None);
        Check.That(highest == count, $"the journal holds {highest} events, expected {count}");

        var latencies = new double[count];
        var ahead = 0;
        for (var s = 1; s <= count; s++)
        {
            Check.That(handledAt[s] != 0 && deliveredAt[s] != 0, $"event {s} lacks its handler or delivery time");
            var milliseconds = (deliveredAt[s] - handledAt[s]) * 1000.0 / Stopwatch.Frequency;
            ahead += milliseconds < 0 ? 1 : 0;
            latencies[s - 1] = Math.Max(0, milliseconds);
        }

        Array.Sort(latencies);
        await system.TerminateAsync();
        return new RunResult(clock.Elapsed, new Dictionary<string, double>
        {
            ["p50_ms"] = Percentile(latencies, 0.50),
            ["p99_ms"] = Percentile(latencies, 0.99),
            ["max_ms"] = latencies[^1],
            ["ahead_of_handler"] = ahead,
            ["cpu_seconds"] = clock.Cpu.TotalSeconds,
        });
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Persists each int it is told, tagged; its handler records the time it ran.</summary>
    private sealed class TaggingWriter(string id, long[] handledAt, Countdown recovered, Countdown applied) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case int value:
                    Persist(new Tagged(value, Tag), _ =>
                    {
                        handledAt[LastSequenceNr] = Stopwatch.GetTimestamp();
                        applied.Signal();
                    });
                    break;
                default:
                    Unhandled(command);
                    break;
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
