using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Recall.Diagnostics;

namespace Recall.Persistence.Tests.Support;

/// <summary>One measurement with its tags.</summary>
public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

/// <summary>
/// Listens to one meter and keeps the measurements tagged with one actor system. Meters are
/// process-wide and test classes run in parallel: a unique system name keeps tests apart.
/// </summary>
public sealed class MeasurementLog : IDisposable
{
    private readonly ConcurrentQueue<Measured> _measurements = new();
    private readonly MeterListener _listener = new();
    private readonly string _systemName;

    public MeasurementLog(string meterName, string systemName)
    {
        _systemName = systemName;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == meterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    public IReadOnlyList<Measured> Of(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument)];

    public double Sum(string instrument) => Of(instrument).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dictionary = new Dictionary<string, object?>();
        foreach (var (key, tagValue) in tags)
        {
            dictionary[key] = tagValue;
        }

        if (dictionary.TryGetValue(RecallDiagnostics.ActorSystemTag, out var system) && (string?)system == _systemName)
        {
            _measurements.Enqueue(new Measured(instrument.Name, value, dictionary));
        }
    }
}
