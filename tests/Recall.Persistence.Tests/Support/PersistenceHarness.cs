using Microsoft.Extensions.Time.Testing;
using Recall.Persistence.InMemory;

namespace Recall.Persistence.Tests.Support;

/// <summary>
/// One actor system for one test, with a journal stack of
/// <see cref="FailingJournal"/> → <see cref="RecordingJournal"/> → a store (in-memory by default),
/// an optional <see cref="FailingSnapshotStore"/>, a log probe, and an optional fake clock.
/// </summary>
public sealed class PersistenceHarness : IAsyncDisposable
{
    private PersistenceHarness(ActorSystem system, FailingJournal journal, RecordingJournal recording, FailingSnapshotStore? snapshots, FakeTimeProvider? clock)
    {
        System = system;
        Journal = journal;
        Recording = recording;
        Snapshots = snapshots;
        Clock = clock;
        Log = new TestProbe(system, "log");
    }

    public ActorSystem System { get; }

    /// <summary>The journal the runtime writes to: inject faults here.</summary>
    public FailingJournal Journal { get; }

    /// <summary>Below the faults: counts calls and sees what reached the store.</summary>
    public RecordingJournal Recording { get; }

    /// <summary>The store itself.</summary>
    public IJournal Store => Recording.Inner;

    public FailingSnapshotStore? Snapshots { get; }

    public FakeTimeProvider? Clock { get; }

    /// <summary>Where <see cref="Recorder"/>s log.</summary>
    public TestProbe Log { get; }

    public PersistenceExtension Persistence => System.Persistence();

    public static PersistenceHarness Create(
        Action<PersistenceOptions>? configure = null,
        FakeTimeProvider? clock = null,
        Func<EventSerialization, IJournal>? store = null,
        Func<EventSerialization, ISnapshotStore>? snapshotStore = null,
        bool withSnapshotStore = true,
        string name = "test")
    {
        FailingJournal? journal = null;
        RecordingJournal? recording = null;
        FailingSnapshotStore? snapshots = null;
        var system = ActorSystem.Create(name, o =>
        {
            if (clock is not null)
            {
                o.TimeProvider = clock;
            }

            o.UsePersistence(p =>
            {
                p.UseJournal(s => journal = new FailingJournal(recording = new RecordingJournal(store?.Invoke(s) ?? new InMemoryJournal(s))));
                if (withSnapshotStore)
                {
                    p.UseSnapshotStore(s => snapshots = new FailingSnapshotStore(snapshotStore?.Invoke(s) ?? new InMemorySnapshotStore(s)));
                }

                configure?.Invoke(p);
            });
        });
        return new PersistenceHarness(system, journal!, recording!, snapshots, clock);
    }

    public IActorRef Spawn(string persistenceId, Recovery? recovery = null, string? name = null) =>
        System.Spawn(Recorder.Props(persistenceId, Log.Ref, recovery), name);

    /// <summary>Spawns a recorder and waits until it has recovered.</summary>
    public async Task<(IActorRef Actor, Recovered Recovered)> SpawnRecoveredAsync(string persistenceId, Recovery? recovery = null, string? name = null)
    {
        var actor = Spawn(persistenceId, recovery, name);
        var recovered = await Log.FishForMessageAsync<Recovered>(_ => true);
        return (actor, recovered);
    }

    /// <summary>Stops <paramref name="actor"/> and waits until it has terminated.</summary>
    public async Task StopAsync(IActorRef actor)
    {
        var watcher = new TestProbe(System);
        watcher.Watch(actor);
        System.Stop(actor);
        await watcher.ExpectTerminatedAsync(actor);
    }

    /// <summary>What the store holds for <paramref name="persistenceId"/>, read directly.</summary>
    public Task<List<PersistentRepr>> StoredAsync(string persistenceId) => ReadAllAsync(Store, persistenceId);

    public static async Task<List<PersistentRepr>> ReadAllAsync(IJournal journal, string persistenceId)
    {
        var events = new List<PersistentRepr>();
        await foreach (var repr in journal.ReplayAsync(persistenceId, 1, long.MaxValue, long.MaxValue, CancellationToken.None))
        {
            events.Add(repr);
        }

        return events;
    }

    /// <summary>
    /// Advances the fake clock by <paramref name="step"/> until <paramref name="done"/> completes:
    /// the code under test may arm its timer a moment after the test saw the call it guards start.
    /// </summary>
    public async Task<T> AdvanceUntilAsync<T>(Task<T> done, TimeSpan step)
    {
        var clock = Clock ?? throw new InvalidOperationException("The harness has no fake clock.");
        var deadline = DateTime.UtcNow + TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
        while (!done.IsCompleted && DateTime.UtcNow < deadline)
        {
            clock.Advance(step);
            await Task.WhenAny(done, Task.Delay(20));
        }

        return await done;
    }

    public async ValueTask DisposeAsync()
    {
        // Stalled calls would keep actors (and the system's termination) waiting.
        Journal.ClearFaults();
        Journal.ReleaseStalled();
        Snapshots?.ClearFaults();
        Snapshots?.ReleaseStalled();
        await System.TerminateAsync();
    }
}
