using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Recall.Persistence.Query;

namespace Recall.Projections.Tests;

/// <summary>Pause, resume, reset, rebuild, status and lag, restart with backoff.</summary>
public sealed class ManagementTests : IAsyncLifetime
{
    private readonly Harness _harness = Harness.Create();
    private readonly InMemoryProjectionOffsetStore _offsets = new();
    private readonly ConcurrentQueue<int> _seen = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private AtLeastOnceProjection Recording(string name = "recording") =>
        Projection.AtLeastOnce(name, ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            _seen.Enqueue(((Added)e.Event).Value);
            return Task.CompletedTask;
        });

    [Fact]
    public async Task A_paused_projection_handles_nothing_until_resumed_and_says_so()
    {
        await _harness.WriteManyAsync("green", 5);
        var handle = _harness.Projections.Start(Recording());
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");

        await handle.PauseAsync();
        Assert.Equal(ProjectionState.Paused, handle.Status.State);
        Assert.Equal(ProjectionState.Paused, (await _offsets.ReadAsync(handle.Id, default))!.State);
        var last = await _harness.WriteManyAsync("green", 4, firstValue: 6);

        // A running twin on the same events sees them: by then the paused one would have too.
        var twin = _harness.Projections.Start(Projection.AtLeastOnce("twin", ProjectionSource.EventsByTag("green"), _offsets, (_, _) => Task.CompletedTask));
        await Wait.ForAsync(twin.WaitForOffsetAsync(last), "the twin to see the events written while paused");
        Assert.Equal(5, _seen.Count);
        await handle.PauseAsync(); // again: nothing changes

        await handle.ResumeAsync();
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "the events written while paused");
        Assert.Equal(Enumerable.Range(1, 9), _seen);
        Assert.Equal(ProjectionState.Running, handle.Status.State);
        Assert.Equal(ProjectionState.Running, (await _offsets.ReadAsync(handle.Id, default))!.State);
    }

    [Fact]
    public async Task Reset_to_an_offset_handles_the_events_after_it_again()
    {
        var offsets = new List<Offset>();
        for (var i = 1; i <= 8; i++)
        {
            offsets.Add(await _harness.WriteAsync($"p-{i % 2}", new Added(i), Harness.T0, "green"));
        }

        var handle = _harness.Projections.Start(Recording());
        await Wait.ForAsync(handle.WaitForOffsetAsync(offsets[^1]), "catch-up");

        await handle.ResetAsync(offsets[4]);
        await Wait.UntilAsync(() => _seen.Count == 11, "the events after offset 5 handled again");
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8], _seen);
        Assert.Equal(ProjectionState.Running, handle.Status.State);

        // Reset forward skips events; a paused projection stays paused.
        await handle.PauseAsync();
        await handle.ResetAsync(offsets[^1]);
        Assert.Equal(ProjectionState.Paused, handle.Status.State);
        Assert.Equal(offsets[^1], (await _offsets.ReadAsync(handle.Id, default))!.Offset);
        Assert.Equal(ProjectionState.Paused, (await _offsets.ReadAsync(handle.Id, default))!.State);
    }

    [Fact]
    public async Task Rebuild_resets_the_offset_before_it_clears_the_read_model_then_handles_everything_again()
    {
        var last = await _harness.WriteManyAsync("green", 6);
        Offset? offsetWhenCleared = null;
        var handle = _harness.Projections.Start(Recording().WithClear(async ct =>
        {
            offsetWhenCleared = (await _offsets.ReadAsync(new ProjectionId("recording", "green"), ct))!.Offset;
            _seen.Clear();
        }));
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");

        await handle.RebuildAsync();
        await Wait.UntilAsync(() => _seen.Count == 6 && handle.Status.Offset == last, "the rebuild");
        Assert.Equal(Offset.Start, offsetWhenCleared);
        Assert.Equal(Enumerable.Range(1, 6), _seen);
        Assert.Equal(12, handle.Status.EventsHandled);
    }

    [Fact]
    public async Task The_status_reports_offset_and_the_lag_in_events_and_time()
    {
        await _harness.WriteManyAsync("green", 3); // timestamps T0+1s .. T0+3s
        var handle = _harness.Projections.Start(Recording().WithOptions(o => o.LagScanLimit = 100));
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");
        var caughtUp = await handle.GetStatusAsync();
        Assert.Equal(new ProjectionLag(0, false, TimeSpan.Zero, caughtUp.Lag!.MeasuredAt), caughtUp.Lag);
        Assert.Equal(Harness.T0.AddSeconds(3), caughtUp.LastEventTimestamp);
        Assert.Equal(3, caughtUp.EventsHandled);

        await handle.PauseAsync();
        await _harness.WriteAsync("p-0", new Added(10), Harness.T0.AddMinutes(10), "green");
        await _harness.WriteAsync("p-1", new Added(11), Harness.T0.AddMinutes(11), "green");
        await _harness.WriteAsync("p-2", new Added(12), Harness.T0.AddMinutes(12), "other");
        await _harness.WriteAsync("p-2", new Added(13), Harness.T0.AddMinutes(13), "green");

        var status = await handle.GetStatusAsync();
        Assert.Equal(3, status.Lag!.Events);
        Assert.False(status.Lag.AtLeast);
        Assert.Equal(TimeSpan.FromMinutes(13) - TimeSpan.FromSeconds(3), status.Lag.Time);
        Assert.Equal(ProjectionState.Paused, status.State);
        Assert.Same(status.Lag, handle.Status.Lag);
    }

    [Fact]
    public async Task A_lag_beyond_the_scan_limit_is_reported_as_at_least_the_limit()
    {
        await _harness.WriteManyAsync("green", 10);
        var handle = _harness.Projections.Start(Recording().WithOptions(o => o.LagScanLimit = 4));
        await handle.PauseAsync();
        await handle.ResetAsync(Offset.Start);

        var status = await handle.GetStatusAsync();
        Assert.Equal(4, status.Lag!.Events);
        Assert.True(status.Lag.AtLeast);
    }

    [Fact]
    public async Task A_failing_handler_stops_the_run_logs_the_event_and_restarts_with_growing_delays_from_the_stored_offset()
    {
        var offsets = new List<Offset>();
        for (var i = 1; i <= 6; i++)
        {
            offsets.Add(await _harness.WriteAsync("p-1", new Added(i), Harness.T0, "green"));
        }

        var attempts = new ConcurrentQueue<DateTime>();
        var model = new ConcurrentDictionary<int, int>();
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("fragile", ProjectionSource.EventsByTag("green"), _offsets, (e, _) =>
        {
            var value = ((Added)e.Event).Value;
            if (value == 4)
            {
                attempts.Enqueue(DateTime.UtcNow);
                if (attempts.Count <= 3)
                {
                    throw new InvalidOperationException($"attempt {attempts.Count} failed");
                }
            }

            model.AddOrUpdate(value, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }).WithOptions(o =>
        {
            o.MaxBatchSize = 1;
            o.MinBackoff = TimeSpan.FromMilliseconds(300);
            o.MaxBackoff = TimeSpan.FromMilliseconds(600);
            o.RandomFactor = 0;
        }));

        await Wait.UntilAsync(() => !attempts.IsEmpty, "the first failure");
        await Wait.UntilAsync(() => handle.Status.State == ProjectionState.Failed, "the failed state");
        var failed = handle.Status;
        Assert.Equal(offsets[2], failed.Offset);
        Assert.Contains("attempt 1 failed", failed.LastError, StringComparison.Ordinal);
        Assert.Contains($"p-1 #4 at offset {offsets[3]}", failed.LastError, StringComparison.Ordinal);
        Assert.Equal(ProjectionState.Failed, (await _offsets.ReadAsync(handle.Id, default))!.State);

        await Wait.ForAsync(handle.WaitForOffsetAsync(offsets[^1]), "recovery");
        var times = attempts.ToArray();
        Assert.Equal(4, times.Length);
        var tolerance = TimeSpan.FromMilliseconds(30);
        Assert.True(times[1] - times[0] >= TimeSpan.FromMilliseconds(300) - tolerance, $"first delay {times[1] - times[0]}");
        Assert.True(times[2] - times[1] >= TimeSpan.FromMilliseconds(600) - tolerance, $"second delay {times[2] - times[1]}");
        Assert.True(times[3] - times[2] >= TimeSpan.FromMilliseconds(600) - tolerance, $"third delay, at the maximum {times[3] - times[2]}");
        Assert.Equal(Enumerable.Range(1, 6), model.Keys.Order());
        Assert.All(model.Values, n => Assert.Equal(1, n));
        Assert.Equal(3, handle.Status.Restarts);
        Assert.Equal(ProjectionState.Running, handle.Status.State);

        var logged = _harness.Logs.Entries.Where(e => e.Level == LogLevel.Error).ToList();
        Assert.Equal(3, logged.Count);
        Assert.All(logged, entry =>
        {
            Assert.Equal("p-1", entry.Values["PersistenceId"]);
            Assert.Equal(4L, entry.Values["SequenceNumber"]);
            Assert.Equal(offsets[3], entry.Values["Offset"]);
            Assert.IsType<InvalidOperationException>(entry.Exception);
        });
    }

    [Fact]
    public async Task With_a_fake_clock_the_restart_waits_for_the_backoff_delay()
    {
        var clock = new TimerWatchingClock(Harness.T0);
        await using var harness = Harness.Create(clock: clock);
        await harness.WriteManyAsync("green", 3);
        var calls = 0;
        var handle = harness.Projections.Start(Projection.AtLeastOnce("fragile", ProjectionSource.EventsByTag("green"), _offsets, (_, _) =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("once") : Task.CompletedTask)
            .WithOptions(o =>
            {
                o.MinBackoff = TimeSpan.FromMinutes(1);
                o.MaxBackoff = TimeSpan.FromMinutes(1);
                o.RandomFactor = 0;
            }));

        await Wait.UntilAsync(() => handle.Status.State == ProjectionState.Failed, "the failure");
        await Wait.ForAsync(clock.WaitForTimerAsync(TimeSpan.FromMinutes(1)), "the backoff delay to start");
        Assert.Equal(1, calls);

        // The clock fires due timers inside Advance: short of the minute, the backoff has not ended.
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(1, calls);
        Assert.Equal(ProjectionState.Failed, handle.Status.State);
        clock.Advance(TimeSpan.FromSeconds(1));
        await Wait.UntilAsync(() => handle.Status.EventsHandled == 3, "the restart after one minute");
        Assert.Equal(1, handle.Status.Restarts);
    }

    [Fact]
    public async Task Resume_restarts_a_failed_projection_at_once()
    {
        await _harness.WriteManyAsync("green", 2);
        var calls = 0;
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("fragile", ProjectionSource.EventsByTag("green"), _offsets, (_, _) =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("once") : Task.CompletedTask)
            .WithOptions(o =>
            {
                o.MinBackoff = TimeSpan.FromHours(1);
                o.MaxBackoff = TimeSpan.FromHours(1);
            }));

        await Wait.UntilAsync(() => handle.Status.State == ProjectionState.Failed, "the failure");
        await handle.PauseAsync();
        await handle.ResumeAsync();
        await Wait.UntilAsync(() => handle.Status.EventsHandled == 2, "the events after resume");
    }

    [Fact]
    public void The_backoff_doubles_from_the_minimum_up_to_the_maximum_plus_random_stretch()
    {
        var options = new ProjectionOptions { MinBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromSeconds(10), RandomFactor = 0.5 };
        Assert.Equal(TimeSpan.FromSeconds(1), options.BackoffDelay(1, 0));
        Assert.Equal(TimeSpan.FromSeconds(2), options.BackoffDelay(2, 0));
        Assert.Equal(TimeSpan.FromSeconds(8), options.BackoffDelay(4, 0));
        Assert.Equal(TimeSpan.FromSeconds(10), options.BackoffDelay(5, 0));
        Assert.Equal(TimeSpan.FromSeconds(10), options.BackoffDelay(500, 0));
        Assert.Equal(TimeSpan.FromSeconds(1.5), options.BackoffDelay(1, 1));
        Assert.Equal(TimeSpan.FromSeconds(15), options.BackoffDelay(9, 1));
    }

    [Fact]
    public void Invalid_options_are_refused_at_start_naming_the_projection()
    {
        var projection = Recording().WithOptions(o => o.MaxBatchSize = 0);
        var error = Assert.Throws<ArgumentException>(() => _harness.Projections.Start(projection));
        Assert.Contains("recording (green)", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBatchSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Management_calls_on_a_stopped_projection_are_refused()
    {
        var handle = _harness.Projections.Start(Recording());
        await handle.StopAsync();
        await handle.StopAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => handle.PauseAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => handle.ResetAsync(Offset.Start));
        Assert.Equal(ProjectionState.Stopped, handle.Status.State);
    }

    [Fact]
    public async Task A_projection_whose_custom_source_ends_stops_after_the_last_envelope()
    {
        var envelopes = Enumerable.Range(1, 3)
            .Select(i => new EventEnvelope(Offset.Sequence(i), "p", i, new Added(i), Harness.T0, []))
            .ToList();
        var source = ProjectionSource.Create("finite", (from, _, _) => envelopes.Where(e => e.Offset > from).ToAsyncEnumerable());
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("finite", source, _offsets, (e, _) =>
        {
            _seen.Enqueue(((Added)e.Event).Value);
            return Task.CompletedTask;
        }));

        await Wait.UntilAsync(() => handle.Status.State == ProjectionState.Stopped, "the end of the source");
        Assert.Equal([1, 2, 3], _seen);
        var row = await _offsets.ReadAsync(handle.Id, default);
        Assert.Equal((Offset.Sequence(3), ProjectionState.Stopped), (row!.Offset, row.State));
        await Wait.ForAsync(handle.PauseAsync(), "a pause of an ended projection");
        await handle.ResumeAsync();
        Assert.Equal(ProjectionState.Stopped, handle.Status.State);
    }
}
