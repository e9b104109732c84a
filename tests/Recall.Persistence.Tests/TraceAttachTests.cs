using System.Diagnostics;

namespace Recall.Persistence.Tests;

/// <summary>
/// A listener that attaches while writes are in flight. Apart from <see cref="TelemetryTests"/>,
/// whose meter listener would trace every request from the start: here the first request is
/// untraced whenever no other test class listens at the time.
/// </summary>
public sealed class TraceAttachTests : IAsyncLifetime
{
    private readonly PersistenceHarness _h = PersistenceHarness.Create();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_listener_attached_in_a_handler_sees_the_write_that_handler_persists_answered_in_its_own_activity()
    {
        ActivityLog? traces = null;
        var seen = new TestProbe(_h.System);
        var actor = _h.System.Spawn(Props.Create(() => new Chain("a-1", () => traces = new ActivityLog("a-1"), seen.Ref)));

        actor.Tell("go", seen.Ref);
        var inSecond = await seen.ExpectMsgAsync<string>();

        using (traces)
        {
            var persist = await traces!.StoppedAsync("recall.persist");
            Assert.Equal(2L, persist.GetTagItem("recall.sequence_number"));
            Assert.Equal(persist.Id, inSecond);
        }
    }

    /// <summary>Persists e1 on a command; e1's handler attaches a listener and persists e2, whose handler reports its activity.</summary>
    private sealed class Chain(string persistenceId, Action attach, IActorRef probe) : PersistentActor
    {
        public override string PersistenceId => persistenceId;

        protected override void ReceiveCommand(object command) =>
            Persist("e1", _ =>
            {
                attach();
                Persist("e2", _ => probe.Tell(Activity.Current?.Id ?? "none"));
            });

        protected override void ReceiveRecover(object message)
        {
        }
    }
}
