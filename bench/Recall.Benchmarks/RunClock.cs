using System.Diagnostics;

namespace Recall.Benchmarks;

/// <summary>
/// Times a run's measured region: wall-clock time, and the CPU time the whole process used in it
/// (all threads, GC included), which is steadier than wall time on a busy machine, and the bytes
/// the process allocated in it (all threads).
/// </summary>
internal sealed class RunClock
{
    private readonly Stopwatch _wall = new();
    private TimeSpan _cpuAtStart;
    private long _allocatedAtStart;

    public TimeSpan Elapsed => _wall.Elapsed;

    public TimeSpan Cpu { get; private set; }

    /// <summary>Bytes allocated on the managed heap between start and stop, by every thread.</summary>
    public long Allocated { get; private set; }

    public static RunClock StartNew()
    {
        var clock = new RunClock();
        clock._cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        clock._allocatedAtStart = GC.GetTotalAllocatedBytes(precise: true);
        clock._wall.Start();
        return clock;
    }

    public void Stop()
    {
        _wall.Stop();
        Cpu = Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart;
        Allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocatedAtStart;
    }
}
