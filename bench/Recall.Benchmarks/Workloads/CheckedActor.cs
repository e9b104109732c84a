using System.Collections.Concurrent;
using Recall.Actors;

namespace Recall.Benchmarks.Workloads;

/// <summary>Failures of a run's actors; a run with any is broken (its counts may restart from zero).</summary>
internal sealed class FailureLog
{
    private readonly ConcurrentQueue<string> _failures = new();

    public void Add(string failure) => _failures.Enqueue(failure);

    /// <summary>How many failures were recorded.</summary>
    public int Count => _failures.Count;

    /// <summary>The first failure recorded, if any.</summary>
    public string? First => _failures.TryPeek(out var first) ? first : null;

    /// <summary>Fails the run if any actor failed.</summary>
    public void CheckNone()
    {
        if (!_failures.IsEmpty)
        {
            throw new BenchCheckException($"{_failures.Count} actor failure(s), first: {_failures.First()}");
        }
    }
}

/// <summary>A workload actor that records failures (every restart) in the run's <see cref="FailureLog"/>.</summary>
internal abstract class CheckedActor(FailureLog failures) : Actor
{
    protected override void PreRestart(Exception reason, object? message)
    {
        failures.Add($"{GetType().Name} restarted after {reason.GetType().Name}: {reason.Message} (message: {message?.GetType().Name ?? "null"})");
        base.PreRestart(reason, message);
    }

    protected override void Unhandled(object message)
    {
        failures.Add($"{GetType().Name} got an unexpected {message?.GetType().Name ?? "null"}");
        base.Unhandled(message!);
    }
}
