using System.Diagnostics;

namespace Recall.Benchmarks;

/// <summary>
/// Times a run's measured region: wall-clock time, and the CPU time the whole process used in it
/// (all threads, GC included), which is steadier than wall time on a busy machine.
/// </summary>
internal sealed class RunClock
{
    private readonly Stopwatch _wall = new();
    private TimeSpan _cpuAtStart;

    public TimeSpan Elapsed => _wall.Elapsed;

    public TimeSpan Cpu { get; private set; }

    public static RunClock StartNew()
    {
        var clock = new RunClock();
        clock._cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        clock._wall.Start();
        return clock;
    }

    public void Stop()
    {
        _wall.Stop();
        Cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
    }
}
