using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Recall.Diagnostics;

namespace Recall.Projections.Tests;

/// <summary>The Recall.Projections meter: events handled, lag per batch and failures, tagged with the projection.</summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly Harness _harness = Harness.Create();
    private readonly InMemoryProjectionOffsetStore _offsets = new();
    private readonly string _name = "telemetry-" + Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentQueue<(string Instrument, double Value, string? Error)> _measurements = new();
    private readonly MeterListener _listener = new();

    public Task InitializeAsync()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RecallDiagnostics.ProjectionsMeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        await _harness.DisposeAsync();
    }

    [Fact]
    public async Task Handled_events_lag_and_failures_are_measured_per_projection()
    {
        await _harness.WriteManyAsync("green", 30);
        var failed = 0;
        var projection = Projection.AtLeastOnceGrouped(_name, ProjectionSource.EventsByTag("green"), _offsets, (batch, _) =>
        {
            if (batch.Any(e => ((Added)e.Event).Value == 17) && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("the read model is down");
            }

            return Task.CompletedTask;
        }).WithOptions(o =>
        {
            o.MaxBatchSize = 10;
            o.MinBackoff = TimeSpan.FromMilliseconds(20);
        });
        var handle = _harness.Projections.Start(projection);
        await Wait.ForAsync(handle.WaitForCatchUpAsync(), "catch-up");

        // The batch with event 17 fails whole and is handled again after the restart: 30 stored offsets, one failure.
        Assert.Equal(30, _measurements.Where(m => m.Instrument == "recall.projection.events.handled").Sum(m => m.Value));
        var lags = _measurements.Where(m => m.Instrument == "recall.projection.lag").Select(m => m.Value).ToList();
        Assert.NotEmpty(lags);
        Assert.All(lags, lag => Assert.True(lag > 0, $"lag {lag} s: the events were persisted at {Harness.T0:O}, long ago"));
        Assert.Equal([nameof(InvalidOperationException)], _measurements.Where(m => m.Instrument == "recall.projection.failures").Select(m => m.Error));
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? projection = null, error = null;
        foreach (var tag in tags)
        {
            if (tag.Key == "recall.projection")
            {
                projection = tag.Value as string;
            }
            else if (tag.Key == RecallDiagnostics.ErrorTypeTag)
            {
                error = tag.Value as string;
            }
        }

        if (projection == _name)
        {
            _measurements.Enqueue((instrument.Name, value, error));
        }
    }
}
