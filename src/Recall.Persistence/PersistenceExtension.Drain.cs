using System.Diagnostics;
using Recall.Persistence.Internal;

namespace Recall.Persistence;

/// <summary>The first step of a graceful shutdown: let the writes in flight finish.</summary>
public sealed partial class PersistenceExtension
{
    private static readonly TimeSpan s_drainPollInterval = TimeSpan.FromMilliseconds(10);
    private volatile bool _draining;

    /// <summary>Whether <see cref="DrainAsync"/> was called: persistent actors take no new commands.</summary>
    public bool IsDraining => _draining;

    /// <summary>
    /// Prepares a graceful stop: from now on persistent actors take no new commands (each becomes
    /// a dead letter), and this waits until every write already sent to the journal is stored (or
    /// failed) and its handlers have run, so their replies and side effects happen. Call
    /// <see cref="Actors.ActorSystem.TerminateAsync"/> afterwards; there is no way back.
    /// </summary>
    /// <param name="timeout">
    /// How long to wait at most, in wall-clock time (not the system's <see cref="TimeProvider"/>:
    /// a host stops on real time even when its actors run on a fake clock).
    /// </param>
    /// <param name="cancellationToken">Stops waiting early; the actors still take no new commands.</param>
    /// <returns>True when nothing is in flight any more; false when the timeout passed first.</returns>
    /// <remarks>
    /// It polls the persistent actors every 10 ms rather than counting writes centrally, so that a
    /// persist costs nothing extra while the system runs. Handlers may persist again; those writes
    /// are waited for too, and so are async command handlers in flight (a typed actor's
    /// <c>OnCommandAsync</c>). Actors still recovering have nothing in flight and are not waited for.
    /// </remarks>
    public async Task<bool> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        _draining = true;
        var started = Stopwatch.GetTimestamp();
        var quiet = false;
        while (true)
        {
            // Twice nothing, a poll apart: a command that was being handled when draining began
            // may still persist, and its write is counted only at the end of its handler.
            if (CountPendingWrites() == 0)
            {
                if (quiet)
                {
                    return true;
                }

                quiet = true;
            }
            else
            {
                quiet = false;
            }

            var left = timeout - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return CountPendingWrites() == 0;
            }

            await Task.Delay(left < s_drainPollInterval ? left : s_drainPollInterval, cancellationToken);
        }
    }

    /// <summary>
    /// Write requests of all persistent actors of the system that are not yet answered and handled,
    /// plus their async command handlers in flight (a typed actor's <c>OnCommandAsync</c>), which
    /// may still persist. A recovery, also an async handler, has nothing to write and is not counted.
    /// </summary>
    internal int CountPendingWrites()
    {
        var pending = 0;
        System.VisitCells(cell =>
        {
            if (cell.Instance is IEventSourcedBehavior { Runtime: { IsStopping: false } runtime })
            {
                pending += runtime.PendingWrites + (runtime.IsRecovering ? 0 : cell.PendingTaskCount);
            }
        });
        return pending;
    }
}
