using Recall.Actors;
using Recall.Persistence;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// What persistent actors on a real store can rely on when a store call outlives its timeout
/// (items T1 and T2, listed in docs/custom-store.md). A store passes it when the test can hold its
/// reads and its writes up, usually with a lock on the database: subclass it and implement
/// <see cref="Configure"/>, <see cref="HoldReadsAsync"/> and <see cref="HoldWritesAsync"/>.
/// </summary>
/// <remarks>
/// Each test starts an actor system of its own with <see cref="PersistenceOptions.RecoveryEventTimeout"/>
/// and <see cref="PersistenceOptions.JournalCallTimeout"/> set to <see cref="Timeout"/>. The store the
/// system uses must wait out a held lock for longer than a test lasts (a long busy or command
/// timeout) and allow at most <see cref="StalledRecoveries"/> - 1 reads at once, so that a
/// recovery that leaks its read shows.
/// </remarks>
public abstract class StalledStoreConformance : IAsyncLifetime
{
    private static readonly TimeSpan s_patience = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));
    private readonly List<ActorSystem> _systems = [];

    /// <summary>The recovery and journal call timeout of the suite's systems.</summary>
    protected virtual TimeSpan Timeout => TimeSpan.FromSeconds(2);

    /// <summary>How many recoveries T1 lets time out; more than the store's read connections.</summary>
    protected virtual int StalledRecoveries => 4;

    /// <summary>Chooses the store under test (with a long wait on locks and fewer read connections than <see cref="StalledRecoveries"/>).</summary>
    protected abstract void Configure(PersistenceOptions persistence);

    /// <summary>Holds up every read of the journal (and of the snapshot store, if it shares the lock) until the returned handle is disposed.</summary>
    protected abstract Task<IAsyncDisposable> HoldReadsAsync();

    /// <summary>Holds up every write of the journal until the returned handle is disposed; reads go on.</summary>
    protected abstract Task<IAsyncDisposable> HoldWritesAsync();

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var system in _systems)
        {
            await system.TerminateAsync();
        }
    }

    /// <summary>
    /// T1: recoveries whose reads outlive <see cref="PersistenceOptions.RecoveryEventTimeout"/> fail
    /// with a <see cref="JournalTimeoutException"/>, whichever call waits (snapshot load, replay,
    /// highest sequence number), and give back what they held: once the lock is gone, the next
    /// recovery completes.
    /// </summary>
    [Fact]
    public async Task T1_recoveries_that_time_out_give_back_what_they_hold()
    {
        var system = CreateSystem();
        var probe = new TestProbe(system);
        var first = system.Spawn(Props.Create(() => new Notebook("t1-notes", Recovery.Default, probe.Ref)));
        Assert.Equal(1L, await first.Ask<long>("written before the lock", s_patience));

        await using (await HoldReadsAsync())
        {
            for (var i = 0; i < StalledRecoveries; i++)
            {
                // Every other one skips snapshot and replay, so that the highest sequence number is the read that waits.
                var recovery = i % 2 == 0 ? Recovery.Default : Recovery.None;
                var stalled = system.Spawn(Props.Create(() => new Notebook("t1-notes", recovery, probe.Ref)));
                probe.Watch(stalled);
                var failed = await probe.ExpectMsgAsync<Notebook.RecoveryFailed>(timeout: s_patience);
                var cause = Assert.IsType<RecoveryFailedException>(failed.Cause);
                Assert.IsType<JournalTimeoutException>(cause.InnerException);
                await probe.ExpectTerminatedAsync(stalled, s_patience);
            }
        }

        var notes = await RecoverAsync(system, probe, "t1-notes");
        Assert.Equal(["written before the lock"], notes);
    }

    /// <summary>
    /// T2: a write that outlives <see cref="PersistenceOptions.JournalCallTimeout"/> fails its actor,
    /// and the actor's next incarnation does not recover until that write has finished, so it
    /// recovers what was stored: while the write still waits, its recovery fails; once the write is
    /// through, the event it was told had failed is in its history, and it goes on after it.
    /// </summary>
    [Fact]
    public async Task T2_a_write_that_timed_out_is_finished_before_its_actor_recovers_again()
    {
        var system = CreateSystem();
        var probe = new TestProbe(system);
        var first = system.Spawn(Props.Create(() => new Notebook("t2-notes", Recovery.Default, probe.Ref)));
        Assert.Equal(1L, await first.Ask<long>("early", s_patience));

        await using (await HoldWritesAsync())
        {
            probe.Watch(first);
            first.Tell("late", probe.Ref);
            var failed = await probe.ExpectMsgAsync<Notebook.PersistFailed>(timeout: s_patience);
            Assert.IsType<JournalTimeoutException>(failed.Cause);
            await probe.ExpectTerminatedAsync(first, s_patience);

            // The write may still commit: a new incarnation must not read the history before it knows.
            var second = system.Spawn(Props.Create(() => new Notebook("t2-notes", Recovery.Default, probe.Ref)));
            probe.Watch(second);
            var refused = await probe.ExpectMsgAsync<Notebook.RecoveryFailed>(timeout: s_patience);
            var cause = Assert.IsType<RecoveryFailedException>(refused.Cause);
            Assert.Contains("timed out", Assert.IsType<JournalTimeoutException>(cause.InnerException).Message, StringComparison.Ordinal);
            await probe.ExpectTerminatedAsync(second, s_patience);
        }

        // The lock is gone, so the abandoned write went through: its event is part of the history.
        var notes = await RecoverAsync(system, probe, "t2-notes");
        Assert.Equal(["early", "late"], notes);
        var third = system.Spawn(Props.Create(() => new Notebook("t2-notes", Recovery.Default, probe.Ref)));
        Assert.Equal(3L, await third.Ask<long>("after", s_patience));
    }

    /// <summary>Recovers the notebook (trying again while a recovery still fails, for a while) and returns its notes; stops it.</summary>
    private static async Task<IReadOnlyList<string>> RecoverAsync(ActorSystem system, TestProbe probe, string persistenceId)
    {
        var deadline = DateTime.UtcNow + s_patience;
        while (true)
        {
            var notebook = system.Spawn(Props.Create(() => new Notebook(persistenceId, Recovery.Default, probe.Ref)));
            try
            {
                var notes = await notebook.Ask<IReadOnlyList<string>>(Notebook.Read, TestKitSettings.Dilated(TimeSpan.FromSeconds(10)));
                system.Stop(notebook);
                return notes;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                system.Stop(notebook);
            }
        }
    }

    private ActorSystem CreateSystem()
    {
        var system = ActorSystem.Create("stalled-store", o => o.UsePersistence(p =>
        {
            Configure(p);
            p.RecoveryEventTimeout = Timeout;
            p.JournalCallTimeout = Timeout;
            p.Events.Register<Notebook.Noted>("tck.noted.v1");
        }));
        _systems.Add(system);
        return system;
    }

    /// <summary>Persists each text it is sent and replies with its sequence number; replies its notes to <see cref="Read"/>; reports failures to a probe.</summary>
    private sealed class Notebook(string persistenceId, Recovery recovery, IActorRef failures) : PersistentActor
    {
        public const string Read = "tck.read";
        private readonly List<string> _notes = [];

        public override string PersistenceId => persistenceId;

        protected override Recovery Recovery => recovery;

        protected override void ReceiveCommand(object command)
        {
            switch (command)
            {
                case Read:
                    Sender.Tell(_notes.ToArray());
                    break;
                case string text:
                    Persist(new Noted(text), noted =>
                    {
                        _notes.Add(noted.Text);
                        Sender.Tell(LastSequenceNumber);
                    });
                    break;
                default:
                    Unhandled(command);
                    break;
            }
        }

        protected override void ReceiveRecover(object message)
        {
            if (message is Noted noted)
            {
                _notes.Add(noted.Text);
            }
        }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNumber) =>
            failures.Tell(new PersistFailed(cause), null);

        protected override void OnRecoveryFailure(Exception cause, object? @event) =>
            failures.Tell(new RecoveryFailed(cause), null);

        public sealed record Noted(string Text);

        public sealed record PersistFailed(Exception Cause);

        public sealed record RecoveryFailed(Exception Cause);
    }
}
