using Microsoft.Extensions.Time.Testing;
using static Recall.Persistence.Tests.Support.Ops;

namespace Recall.Persistence.Tests;

/// <summary>The journal's circuit breaker: fail fast after repeated failures, probe after the reset timeout.</summary>
public sealed class CircuitBreakerTests : IAsyncLifetime
{
    private static readonly TimeSpan s_reset = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new();
    private readonly PersistenceHarness _h;
    private int _actors;

    public CircuitBreakerTests() => _h = PersistenceHarness.Create(
        p =>
        {
            p.CircuitBreakerMaxFailures = 3;
            p.CircuitBreakerResetTimeout = s_reset;
        },
        _clock);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task After_MaxFailures_failed_writes_the_next_writes_fail_fast_until_a_probe_write_after_the_reset_timeout_succeeds()
    {
        _h.Journal.FailWrites(times: 3);
        for (var i = 0; i < 3; i++)
        {
            Assert.IsType<InjectedFaultException>(Cause(await PersistWithNewActorAsync()));
        }

        Assert.Equal(3, _h.Journal.CallCount(StoreOperation.Write));

        // Open: fails fast, the store is not called.
        Assert.IsType<CircuitBreakerOpenException>(Cause(await PersistWithNewActorAsync()));
        _clock.Advance(s_reset - TimeSpan.FromSeconds(1));
        Assert.IsType<CircuitBreakerOpenException>(Cause(await PersistWithNewActorAsync()));
        Assert.Equal(3, _h.Journal.CallCount(StoreOperation.Write));

        // Half-open after the reset timeout: one write probes the store; its success closes the breaker.
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.IsType<Handled>(await PersistWithNewActorAsync());
        Assert.Equal(4, _h.Journal.CallCount(StoreOperation.Write));
        Assert.IsType<Handled>(await PersistWithNewActorAsync());
        Assert.Equal(5, _h.Journal.CallCount(StoreOperation.Write));
    }

    [Fact]
    public async Task A_failed_probe_write_opens_the_breaker_again()
    {
        _h.Journal.FailWrites(times: 4);
        for (var i = 0; i < 3; i++)
        {
            await PersistWithNewActorAsync();
        }

        _clock.Advance(s_reset);
        Assert.IsType<InjectedFaultException>(Cause(await PersistWithNewActorAsync())); // the probe reached the store and failed
        Assert.Equal(4, _h.Journal.CallCount(StoreOperation.Write));

        Assert.IsType<CircuitBreakerOpenException>(Cause(await PersistWithNewActorAsync()));
        Assert.Equal(4, _h.Journal.CallCount(StoreOperation.Write));

        _clock.Advance(s_reset);
        Assert.IsType<Handled>(await PersistWithNewActorAsync());
    }

    [Fact]
    public async Task Failures_below_MaxFailures_separated_by_a_success_do_not_open_the_breaker()
    {
        _h.Journal.FailWrites(times: 2);
        await PersistWithNewActorAsync();
        await PersistWithNewActorAsync();
        Assert.IsType<Handled>(await PersistWithNewActorAsync());

        _h.Journal.FailWrites(times: 2);
        await PersistWithNewActorAsync();
        await PersistWithNewActorAsync();
        Assert.IsType<Handled>(await PersistWithNewActorAsync()); // 2 + 2 failures, but never 3 in a row
        Assert.Equal(6, _h.Journal.CallCount(StoreOperation.Write));
    }

    /// <summary>A fresh actor persists one event; the result is its <see cref="Handled"/> or its <see cref="PersistFailed"/>.</summary>
    private async Task<object> PersistWithNewActorAsync()
    {
        var id = $"cb-{++_actors}";
        var (actor, _) = await _h.SpawnRecoveredAsync(id);
        actor.Tell(new Cmd(id, Persist(id)));
        await _h.Log.ExpectMsgAsync(new Received(id));
        return await _h.Log.ExpectMsgAsync<object>(m => m is Handled or PersistFailed);
    }

    private static Exception Cause(object outcome) => Assert.IsType<PersistFailed>(outcome).Cause;
}
