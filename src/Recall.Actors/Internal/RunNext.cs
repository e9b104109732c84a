using System.Runtime.CompilerServices;
namespace Recall.Actors.Internal;

/// <summary>
/// The run-next slot of a thread: an actor woken by the message a turn is handling runs right after
/// that turn on the same thread, instead of going through the thread pool's queue.
/// </summary>
/// <remarks>
/// <para>
/// A reply, or the next step of a pipeline, usually wakes an idle actor just before the turn ends.
/// Queued on the thread pool, it would be picked up by this thread anyway or, worse, stolen by another
/// one (the handoff, wake-up and cache misses cost more than the message). Kept here, it runs next,
/// and a ping-pong between two actors stays on one thread.
/// </para>
/// <para>
/// The slot holds one actor. It goes to the thread pool as usual when the turn wakes another actor,
/// posts it a second message (the sender goes on producing: both should run at once), or goes on to
/// its next message; after <see cref="MaxTurnsInARow"/> turns run this way the thread queues the next
/// one, so the pool's other work is not starved. A handler that blocks after waking an actor (or runs
/// for long) would hold that actor back: a watchdog looks at the slots every
/// <see cref="WatchPeriod"/> and queues an actor that sat in its slot for a whole period while its
/// thread ended no turn. The watchdog stops itself after a second without kept actors.
/// </para>
/// </remarks>
internal sealed class RunNext
{
    /// <summary>Turns a thread runs in a row from its slot before it queues the next one.</summary>
    public const int MaxTurnsInARow = 32;

    /// <summary>How often the watchdog looks for an actor held back by a busy or blocked thread.</summary>
    public static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(10);

    private const int QuietPeriodsBeforeStop = 100;

    [ThreadStatic]
    private static RunNext? t_slot;

    private static readonly Lock s_lock = new();
    private static readonly List<RunNext> s_slots = [];
    private static Timer? s_watchdog;       // under s_lock
    private static volatile bool s_watching;
    private static int s_quietPeriods;      // under s_lock

    private readonly Thread _owner = Thread.CurrentThread;
    private ActorCell? _cell;
    private int _turnsEnded;                // written by the owner only
    private ActorCell? _seenCell;           // under s_lock
    private int _seenTurnsEnded;            // under s_lock

    /// <summary>Keeps <paramref name="cell"/>, just scheduled by a turn on this thread, to run after that turn.</summary>
    public static void Keep(ActorCell cell)
    {
        var slot = t_slot ?? Register();
        Interlocked.Exchange(ref slot._cell, cell)?.QueueOnThreadPool();
        if (!s_watching)
        {
            StartWatching();
        }
    }

    /// <summary>Whether <paramref name="cell"/> is kept in this thread's slot.</summary>
    public static bool IsKept(ActorCell cell) => ReferenceEquals(t_slot?._cell, cell);

    /// <summary>Queues the actor kept in this thread's slot, if it is still there.</summary>
    public static void Release()
    {
        var slot = t_slot;
        if (slot?._cell is not null)
        {
            Interlocked.Exchange(ref slot._cell, null)?.QueueOnThreadPool();
        }
    }

    /// <summary>Runs a turn of <paramref name="first"/>, then the turns of the actors it and its followers kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(ActorCell first)
    {
        var cell = first;
        for (var turns = 1; ; turns++)
        {
            cell.RunTurn();
            var slot = t_slot;
            if (slot is null)
            {
                return;
            }

            Volatile.Write(ref slot._turnsEnded, slot._turnsEnded + 1);
            var next = slot._cell is null ? null : Interlocked.Exchange(ref slot._cell, null);
            if (next is null)
            {
                return;
            }

            if (turns == MaxTurnsInARow)
            {
                next.QueueOnThreadPool();
                return;
            }

            cell = next;
        }
    }

    private static RunNext Register()
    {
        var slot = new RunNext();
        lock (s_lock)
        {
            s_slots.Add(slot);
        }

        t_slot = slot;
        return slot;
    }

    private static void StartWatching()
    {
        lock (s_lock)
        {
            s_quietPeriods = 0;
            s_watching = true;
            s_watchdog ??= new Timer(static _ => Watch(), null, WatchPeriod, WatchPeriod);
        }
    }

    private static void Watch()
    {
        lock (s_lock)
        {
            if (ScanHoldsAny())
            {
                s_quietPeriods = 0;
                return;
            }

            if (++s_quietPeriods < QuietPeriodsBeforeStop)
            {
                return;
            }

            // Say so first, then look again: a Keep either sees that nobody watches (and starts the
            // watchdog again) or placed its actor before this second look, which then finds it.
            s_watching = false;
            Interlocked.MemoryBarrier();
            if (ScanHoldsAny())
            {
                s_watching = true;
                s_quietPeriods = 0;
                return;
            }

            s_watchdog?.Dispose();
            s_watchdog = null;
        }
    }

    /// <summary>Queues every actor that sat in its slot since the last look while its thread ended no turn; whether any slot holds one.</summary>
    private static bool ScanHoldsAny()
    {
        var holds = false;
        for (var i = s_slots.Count - 1; i >= 0; i--)
        {
            var slot = s_slots[i];
            var cell = Volatile.Read(ref slot._cell);
            var turnsEnded = Volatile.Read(ref slot._turnsEnded);
            if (cell is null)
            {
                slot._seenCell = null;
                if (!slot._owner.IsAlive)
                {
                    s_slots.RemoveAt(i);
                }

                continue;
            }

            holds = true;
            if (ReferenceEquals(cell, slot._seenCell) && turnsEnded == slot._seenTurnsEnded)
            {
                slot._seenCell = null;
                if (ReferenceEquals(Interlocked.CompareExchange(ref slot._cell, null, cell), cell))
                {
                    cell.QueueOnThreadPool();
                }

                continue;
            }

            slot._seenCell = cell;
            slot._seenTurnsEnded = turnsEnded;
        }

        return holds;
    }
}
