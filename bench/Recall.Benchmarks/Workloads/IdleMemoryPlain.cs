using System.Diagnostics;
using Recall.Actors;

namespace Recall.Benchmarks.Workloads;

/// <summary>
/// idle-memory-plain: spawn N = 100,000 plain actors that do nothing but report their start, and
/// measure the managed heap per actor the way the Proto.Actor anchor does: an aggressive
/// compacting GC, GC.GetTotalMemory(true), spawn all (named "a0", "a1", ...; one shared Props),
/// wait until every actor has run PreStart, wait 500 ms more, GC.GetTotalMemory(true) again; the
/// delta includes the driver's IActorRef[] (8 B/actor) and the parent's child table. The time is
/// from the first spawn until all have started (per_sec = actors/s).
/// </summary>
internal sealed class IdleMemoryPlain(BenchOptions options) : IWorkload
{
    public string Name => "idle-memory-plain";

    public IReadOnlyList<string> Stores { get; } = ["none"];

    public long N { get; } = Math.Max(1, 100_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var actors = (int)N;
        var system = context.CreateSystem();
        var counter = new StartedCounter(actors);
        var props = Props.Create(() => new IdleActor(counter));
        using var process = Process.GetCurrentProcess();

        // give memory retained by earlier runs back to the OS, so the working-set delta reflects this run
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var heap0 = GC.GetTotalMemory(forceFullCollection: true);
        process.Refresh();
        var workingSet0 = process.WorkingSet64;

        var refs = new IActorRef[actors];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < actors; i++)
        {
            refs[i] = system.Spawn(props, "a" + i);
        }

        await Check.Within(counter.AllStarted.Task, TimeSpan.FromMinutes(10), "all actors started");
        clock.Stop();
        await Task.Delay(500); // let mailboxes settle, as in both anchors

        var heap1 = GC.GetTotalMemory(forceFullCollection: true);
        process.Refresh();
        var workingSet1 = process.WorkingSet64;
        GC.KeepAlive(refs);
        GC.KeepAlive(system);

        Check.That(Interlocked.Read(ref counter.Started) == actors, $"started {counter.Started} != {actors}");
        // the driver's IActorRef[] alone is 8 B per actor: a smaller delta means a polluted baseline
        Check.That(heap1 - heap0 >= (long)actors * IntPtr.Size, $"heap delta {heap1 - heap0} B is smaller than the IActorRef[] itself");
        Check.That(refs.Distinct().Count() == actors, "refs are not all distinct");
        Check.That(system.DeadLetterCount == 0, $"{system.DeadLetterCount} dead letters");

        return new RunResult(clock.Elapsed, new Dictionary<string, double>
        {
            ["bytes_per_actor"] = (double)(heap1 - heap0) / actors,
            ["working_set_bytes_per_actor"] = (double)(workingSet1 - workingSet0) / actors,
        });
    }

    /// <summary>Thread-safe count of actors that have started.</summary>
    private sealed class StartedCounter(int actors)
    {
        private int _remaining = actors;

        public TaskCompletionSource AllStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Started;

        public void OnStarted()
        {
            Interlocked.Increment(ref Started);
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                AllStarted.TrySetResult();
            }
        }
    }

    /// <summary>Does nothing but report that it started.</summary>
    private sealed class IdleActor(StartedCounter counter) : Actor
    {
        protected override void PreStart() => counter.OnStarted();

        protected override void Receive(object message) => Unhandled(message);
    }
}
