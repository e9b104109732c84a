using System.Diagnostics;
using Recall.Diagnostics;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>
/// The Recall.Persistence meter and activity source. Meters and activity sources are
/// process-wide: each test reads only what is tagged with its own system name or persistence id.
/// </summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly string _name = "telemetry-" + Guid.NewGuid().ToString("N")[..12];
    private readonly MeasurementLog _metrics;
    private readonly PersistenceHarness _h;

    public TelemetryTests()
    {
        _metrics = new MeasurementLog(RecallDiagnostics.PersistenceMeterName, _name);
        _h = PersistenceHarness.Create(name: _name);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _h.DisposeAsync();
        _metrics.Dispose();
    }

    [Fact]
    public async Task Persisting_is_measured_per_command_and_per_journal_batch()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("m-1");

        actor.Tell(new Cmd("c1", Persist("a"), Persist("b")), null);
        actor.Tell(new Cmd("c2", PersistAll("c", "d", "e")), null);
        for (var i = 1; i <= 5; i++)
        {
            await _h.Log.FishForMessageAsync<Handled>(h => h.SequenceNumber == i);
        }

        // c2 waits in the internal stash until c1's handlers ran, so each is a batch of its own.
        Assert.Equal([2.0, 3.0], _metrics.Of("recall.persistence.journal.batch.size").Select(m => m.Value));
        Assert.Equal(5, _metrics.Sum("recall.persistence.events.written"));
        Assert.Equal(2, _metrics.Of("recall.persistence.journal.write.duration").Count);
        var persists = _metrics.Of("recall.persistence.persist.duration");
        Assert.Equal(2, persists.Count);
        Assert.All(persists, m =>
        {
            Assert.InRange(m.Value, 0, 10);
            Assert.False(m.Tags.ContainsKey(RecallDiagnostics.ErrorTypeTag));
        });
    }

    [Fact]
    public async Task Recovery_is_measured_with_the_events_it_replayed()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("m-2");
        actor.Tell(new Cmd("c1", PersistAll("a", "b", "c")), null);
        await _h.Log.FishForMessageAsync<Handled>(h => h.SequenceNumber == 3);
        Assert.Single(_metrics.Of("recall.persistence.recovery.duration"));
        Assert.Equal(0, _metrics.Sum("recall.persistence.events.replayed"));

        await _h.StopAsync(actor);
        await _h.SpawnRecoveredAsync("m-2");

        Assert.Equal(2, _metrics.Of("recall.persistence.recovery.duration").Count);
        Assert.Equal(3, _metrics.Sum("recall.persistence.events.replayed"));
    }

    [Fact]
    public async Task A_failed_write_is_measured_with_the_error_type()
    {
        var (actor, _) = await _h.SpawnRecoveredAsync("m-3");
        _h.Journal.FailWrites("m-3", times: 1);

        actor.Tell(new Cmd("c1", Persist("a")), null);
        await _h.Log.FishForMessageAsync<PersistFailed>(_ => true);

        var error = typeof(InjectedFaultException).FullName;
        Assert.Equal(error, Assert.Single(_metrics.Of("recall.persistence.persist.duration")).Tags[RecallDiagnostics.ErrorTypeTag]);
        Assert.Equal(error, Assert.Single(_metrics.Of("recall.persistence.journal.write.duration")).Tags[RecallDiagnostics.ErrorTypeTag]);
        Assert.Empty(_metrics.Of("recall.persistence.events.written"));
    }

    [Fact]
    public async Task A_command_is_traced_as_command_then_persist_and_its_handler_runs_inside_the_persist_activity()
    {
        using var traces = new ActivityLog("t-1");
        var seen = new TestProbe(_h.System);
        var actor = _h.System.Spawn(Props.Create(() => new ActivityReporter("t-1", seen.Ref)));

        actor.Tell("deposit", seen.Ref);
        var inCommand = await seen.ExpectMsgAsync<Seen>(s => s.Where == "command");
        var inHandler = await seen.ExpectMsgAsync<Seen>(s => s.Where == "handler");

        var command = await traces.StoppedAsync("recall.command");
        var persist = await traces.StoppedAsync("recall.persist");
        var recover = await traces.StoppedAsync("recall.recover");
        Assert.Equal(command.Id, inCommand.ActivityId);
        Assert.Equal(persist.Id, inHandler.ActivityId);
        Assert.Equal(command.Id, persist.ParentId);
        Assert.Equal(command.TraceId, persist.TraceId);
        Assert.Equal("String", command.GetTagItem("recall.command.type"));
        Assert.Equal(1, persist.GetTagItem("recall.event_count"));
        Assert.Equal(1L, persist.GetTagItem("recall.sequence_number"));
        Assert.Equal(_name, persist.GetTagItem(RecallDiagnostics.ActorSystemTag));
        Assert.Equal(0L, recover.GetTagItem("recall.events_replayed"));
        Assert.Equal(ActivityStatusCode.Unset, persist.Status);
    }

    [Fact]
    public async Task A_failed_write_ends_its_persist_activity_with_an_error()
    {
        using var traces = new ActivityLog("t-2");
        var (actor, _) = await _h.SpawnRecoveredAsync("t-2");
        _h.Journal.FailWrites("t-2", times: 1);

        actor.Tell(new Cmd("c1", Persist("a")), null);
        await _h.Log.FishForMessageAsync<PersistFailed>(_ => true);

        var persist = await traces.StoppedAsync("recall.persist");
        Assert.Equal(ActivityStatusCode.Error, persist.Status);
        Assert.Equal(typeof(InjectedFaultException).FullName, persist.GetTagItem(RecallDiagnostics.ErrorTypeTag));
    }

    private sealed record Seen(string Where, string? ActivityId);

    /// <summary>Persists one event per string command and reports the current activity in the command and in the handler.</summary>
    private sealed class ActivityReporter(string persistenceId, IActorRef probe) : PersistentActor
    {
        public override string PersistenceId => persistenceId;

        protected override void ReceiveCommand(object command)
        {
            probe.Tell(new Seen("command", Activity.Current?.Id));
            Persist((string)command, _ => probe.Tell(new Seen("handler", Activity.Current?.Id)));
        }

        protected override void ReceiveRecover(object message)
        {
        }
    }
}
