using Recall.Actors;
using Recall.Persistence;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// persist-seq, persist-async, persist-many: actors × commands, all sent up front (round-robin),
/// each persisting one int; timed from the first send until every handler has run. Actors are
/// spawned and recovered (empty) before the clock starts. Checks: every actor applied all its
/// events (sum), and the journal's highest sequence number of every id is the command count.
/// </summary>
/// <remarks>With <c>fenced</c> (persist-many-fenced) every actor writes with a fencing token, as an
/// entity or singleton of a cluster does: the cost of the journal's fencing check. With
/// <c>serialized</c> false (key <c>name:objects</c>, memory store only) the memory store keeps the
/// event objects instead of serializing them, as Akka.NET's in-memory journal does: the like-for-like
/// figure. <c>extra.serialized</c> tells the two lines apart; <c>extra.alloc_bytes_per_event</c> is what
/// the whole process allocated in the timed region, per event.</remarks>
internal sealed class PersistWorkload(string name, Mode mode, int actors, int perActor, BenchOptions options, bool typed = false, bool fenced = false, bool serialized = true) : IWorkload
{
    private readonly int _actors = Math.Max(1, actors / Math.Max(1, actors == 1 ? 1 : options.ScaleDown));
    private readonly int _perActor = Math.Max(1, perActor / (actors == 1 ? options.ScaleDown : 1));

    public string Name => name;

    public IReadOnlyList<string> Stores { get; } = typed || !serialized ? ["memory"] : ["memory", "sqlite", "postgres"];

    public string Key => serialized ? name : name + ":objects";

    public IReadOnlyDictionary<string, double>? Fixed { get; } = new Dictionary<string, double> { ["serialized"] = serialized ? 1 : 0 };

    public long N => (long)_actors * _perActor;

    public async Task<RunResult> RunAsync(RunContext context)
    {
        using var store = BenchStore.Fresh(context.Store, context.Options.Postgres);
        store.Serialize = serialized;
        var system = context.CreateSystem(store.Configure);
        var recovered = new Countdown(_actors);
        var applied = new Countdown(N);
        var refs = new IActorRef[_actors];
        for (var i = 0; i < _actors; i++)
        {
            var id = $"bench-{i}";
            if (fenced)
            {
                system.Persistence().SetFencingToken(ActorPath.Root(system.Address).Child("user").Child(id), 1);
            }

            refs[i] = system.Spawn(typed
                ? Props.Create(() => new TypedBenchCounter(id, recovered, applied))
                : Props.Create(() => new BenchCounter(id, mode, recovered, applied)), id);
        }

        await Check.Within(recovered.Done, TimeSpan.FromMinutes(5), "actors recovered before the clock starts");

        var clock = RunClock.StartNew();
        for (var s = 1; s <= _perActor; s++)
        {
            object command = s;
            foreach (var actor in refs)
            {
                actor.Tell(command, null);
            }
        }

        await Check.Within(applied.Done, TimeSpan.FromMinutes(15), $"{N} events applied");
        clock.Stop();

        var expectedSum = (long)_perActor * (_perActor + 1) / 2;
        var journal = system.Persistence().Journal;
        for (var i = 0; i < _actors; i++)
        {
            var pong = await refs[i].Ask<Pong>(Ping.Instance, TimeSpan.FromSeconds(60));
            Check.That(pong.Sum == expectedSum && pong.LastSequenceNumber == _perActor, $"bench-{i} applied sum {pong.Sum} up to {pong.LastSequenceNumber}, expected {expectedSum} up to {_perActor}");
            var persistenceId = typed ? PersistenceId.Of("bench", $"bench-{i}").Value : $"bench-{i}";
            var highest = await journal.ReadHighestSequenceNumberAsync(persistenceId, 0, CancellationToken.None);
            Check.That(highest == _perActor, $"journal holds {highest} events of bench-{i}, expected {_perActor}");
        }

        await system.TerminateAsync();
        return new RunResult(clock.Elapsed, new Dictionary<string, double>
        {
            ["cpu_seconds"] = clock.Cpu.TotalSeconds,
            ["alloc_bytes_per_event"] = Math.Round((double)clock.Allocated / N, 1),
        });
    }
}

/// <summary>
/// recover, recover-many: the events are written once per store (untimed, with a fresh system);
/// each run recovers them in a new system, timed from the first spawn until every actor has
/// completed recovery. Checks: every actor replayed all its events (count and sum of payloads).
/// </summary>
internal sealed class RecoverWorkload(string name, int actors, int perActor, BenchOptions options) : IWorkload, IDisposable
{
    private readonly int _actors = Math.Max(1, actors / (actors == 1 ? 1 : options.ScaleDown));
    private readonly int _perActor = Math.Max(1, perActor / (actors == 1 ? options.ScaleDown : 1));
    private BenchStore? _store;

    public string Name => name;

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => (long)_actors * _perActor;

    public async Task PrepareAsync(RunContext context)
    {
        _store?.Dispose();
        _store = BenchStore.Fresh(context.Store, context.Options.Postgres);
        var system = context.CreateSystem(_store.Configure);
        var recovered = new Countdown(_actors);
        var applied = new Countdown(N);
        var refs = Enumerable.Range(0, _actors)
            .Select(i => system.Spawn(Props.Create(() => new BenchCounter($"bench-{i}", Mode.PersistAsync, recovered, applied)), $"bench-{i}"))
            .ToArray();
        await Check.Within(recovered.Done, TimeSpan.FromMinutes(5), "writers recovered");
        for (var s = 1; s <= _perActor; s++)
        {
            object command = s;
            foreach (var actor in refs)
            {
                actor.Tell(command, null);
            }
        }

        await Check.Within(applied.Done, TimeSpan.FromMinutes(15), $"{N} events written");
        await system.TerminateAsync();
    }

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var system = context.CreateSystem(_store!.Configure);
        var recovered = new Countdown(_actors);
        var clock = RunClock.StartNew();
        var refs = new IActorRef[_actors];
        for (var i = 0; i < _actors; i++)
        {
            var id = $"bench-{i}";
            refs[i] = system.Spawn(Props.Create(() => new BenchCounter(id, Mode.Persist, recovered, null)), id);
        }

        await Check.Within(recovered.Done, TimeSpan.FromMinutes(10), "all actors recovered");
        clock.Stop();

        var expectedSum = (long)_perActor * (_perActor + 1) / 2;
        foreach (var actor in refs)
        {
            var pong = await actor.Ask<Pong>(Ping.Instance, TimeSpan.FromSeconds(60));
            Check.That(pong.Replayed == _perActor && pong.Sum == expectedSum && pong.LastSequenceNumber == _perActor,
                $"{actor.Path.Name} replayed {pong.Replayed} (sum {pong.Sum}, last {pong.LastSequenceNumber}), expected {_perActor} (sum {expectedSum})");
        }

        await system.TerminateAsync();
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["cpu_seconds"] = clock.Cpu.TotalSeconds });
    }

    /// <summary>The events written for the runs go with the last run: a PostgreSQL schema would otherwise stay in the database.</summary>
    public Task CleanUpAsync(string store)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _store?.Dispose();
        _store = null;
    }
}

/// <summary>
/// idle-memory: spawn N = 100,000 persistent actors with no events (memory store) and wait until
/// all have recovered; managed heap bytes per actor measured as idle-memory-plain does.
/// </summary>
internal sealed class IdleMemoryPersistent(BenchOptions options) : IWorkload
{
    public string Name => "idle-memory";

    public IReadOnlyList<string> Stores { get; } = ["memory"];

    public long N { get; } = Math.Max(1, 100_000 / options.ScaleDown);

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var actors = (int)N;
        using var store = BenchStore.Fresh(context.Store);
        var system = context.CreateSystem(store.Configure);
        var recovered = new Countdown(actors);

        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        var heap0 = GC.GetTotalMemory(forceFullCollection: true);

        var refs = new IActorRef[actors];
        var clock = RunClock.StartNew();
        for (var i = 0; i < actors; i++)
        {
            var id = "p" + i;
            refs[i] = system.Spawn(Props.Create(() => new BenchCounter(id, Mode.Persist, recovered, null)), id);
        }

        await Check.Within(recovered.Done, TimeSpan.FromMinutes(10), "all persistent actors recovered");
        clock.Stop();
        await Task.Delay(500);
        var heap1 = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(refs);
        GC.KeepAlive(system);
        Check.That(heap1 - heap0 >= (long)actors * IntPtr.Size, $"heap delta {heap1 - heap0} B is smaller than the IActorRef[] itself");
        Check.That(system.DeadLetterCount == 0, $"{system.DeadLetterCount} dead letters");
        return new RunResult(clock.Elapsed, new Dictionary<string, double> { ["bytes_per_actor"] = (double)(heap1 - heap0) / actors });
    }
}
