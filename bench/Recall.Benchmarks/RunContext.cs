using Recall.Actors;

namespace Recall.Benchmarks;

/// <summary>What one run of one workload on one store gets from the runner.</summary>
internal sealed class RunContext(BenchOptions options, string store, int run, Action<string>? log = null)
{
    private readonly List<ActorSystem> _systems = [];

    public BenchOptions Options => options;

    /// <summary>The store name: none, memory, sqlite or postgres.</summary>
    public string Store => store;

    /// <summary>0, 1, 2, ... for measured runs; negative for warm-ups and preparation.</summary>
    public int Run => run;

    /// <summary>Writes a line to the harness's log (stderr of the program); call it only from the run's own flow, not from actors.</summary>
    public void Log(string message) => log?.Invoke(message);

    /// <summary>Scales an N down for smoke tests (<c>--scale-down K</c>).</summary>
    public int Scaled(int n) => Math.Max(1, n / options.ScaleDown);

    /// <summary>
    /// Creates a fresh actor system for this run. The runner terminates it after the run (if the
    /// workload did not) and waits until it has been garbage collected before the next run.
    /// </summary>
    public ActorSystem CreateSystem(Action<ActorSystemOptions>? configure = null)
    {
        var system = ActorSystem.Create("bench", configure);
        _systems.Add(system);
        return system;
    }

    internal async Task<List<WeakReference>> TerminateAllAsync(TimeSpan timeout)
    {
        var weak = new List<WeakReference>();
        foreach (var system in _systems)
        {
            var terminated = system.TerminateAsync();
            if (await Task.WhenAny(terminated, Task.Delay(timeout)) != terminated)
            {
                throw new BenchCheckException($"actor system did not terminate within {timeout.TotalSeconds:F0} s");
            }

            weak.Add(new WeakReference(system));
        }

        _systems.Clear();
        return weak;
    }
}
