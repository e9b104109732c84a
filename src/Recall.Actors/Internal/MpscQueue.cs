using System.Runtime.CompilerServices;

namespace Recall.Actors.Internal;

/// <summary>
/// An unbounded queue for many producers and one consumer, lock-free but for growing: a ring of reused slots that
/// grows into a larger ring when it fills, so that a mailbox whose actor keeps up allocates nothing.
/// </summary>
/// <remarks>
/// <para>
/// Each ring is a bounded queue in the manner of D. Vyukov's: every slot carries a sequence number
/// that says whose turn the slot is. A producer claims position <c>p</c> with a compare-exchange of
/// the ring's tail once the slot's sequence equals <c>p</c>, writes the item and publishes it by
/// writing <c>p + 1</c>; the consumer takes the item when it sees <c>p + 1</c> and hands the slot
/// to the producer one lap later by writing <c>p + length</c>. Positions are ints that wrap; only
/// differences are compared.
/// </para>
/// <para>
/// A producer that finds its ring full freezes it (adds a lap offset to the tail, after which no
/// claim on it can succeed), links a ring twice as large (up to <see cref="MaxRingLength"/>) and
/// moves the tail there. The consumer leaves a frozen ring once it has taken every item claimed
/// before the freeze, so nothing enqueued is passed over and the old ring becomes garbage. The first
/// ring is created on the first enqueue, so an actor that never receives a user message pays nothing
/// for its mailbox.
/// </para>
/// </remarks>
internal struct MpscQueue<T>
{
    private const int FirstRingLength = 8;
    private const int MaxRingLength = 1024;

    private Ring? _head;      // the consumer's ring; set by the first enqueue, then moved by the consumer only
    private Slot[]? _headSlots; // consumer only: the slots of _head
    private int _headPosition; // consumer only (read by HasItems and ApproximateCount from any thread)
    private Ring? _tail;      // producers

    /// <summary>Adds an item; safe to call from any number of threads at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Enqueue(T item)
    {
        var ring = Volatile.Read(ref _tail) ?? InitializeFirstRing();
        while (!ring.TryEnqueue(item))
        {
            ring = Grow(ring);
        }
    }

    /// <summary>Takes the oldest published item; consumer thread only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryDequeue(out T item)
    {
        // The consumer reads the ring's slots through its own copy of the reference: the ring object's
        // cache line is written by every producer's claim.
        var slots = _headSlots;
        if (slots is null)
        {
            var first = Volatile.Read(ref _head);
            if (first is null)
            {
                item = default!;
                return false;
            }

            _headSlots = slots = first.Slots;
        }

        while (true)
        {
            var position = _headPosition;
            ref var slot = ref slots[position & (slots.Length - 1)];
            if (Volatile.Read(ref slot.Sequence) == position + 1)
            {
                item = slot.Item;
                if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
                {
                    slot.Item = default!;
                }

                Volatile.Write(ref slot.Sequence, position + slots.Length);
                _headPosition = position + 1;
                return true;
            }

            // Not published: empty, or a producer claimed the slot and has not written it yet (it
            // schedules the consumer again after publishing, so nothing is lost), or the ring is
            // frozen and everything claimed in it was taken: then go on in the next one.
            var ring = _head!;
            var next = ring.IsDrainedAt(position) ? Volatile.Read(ref ring.Next) : null;
            if (next is null)
            {
                item = default!;
                return false;
            }

            Volatile.Write(ref _head, next);
            _headSlots = slots = next.Slots;
            Volatile.Write(ref _headPosition, 0);
        }
    }

    /// <summary>
    /// Whether a published item is waiting. Exact on the consumer thread. Also safe (never throws)
    /// while another thread consumes, but then either answer may be wrong (a head moved to another
    /// ring between the reads of <c>_head</c> and <c>_headPosition</c>): the end of a turn asks after
    /// clearing the scheduled flag, and if the next turn already runs elsewhere, that turn takes the
    /// item or finds it in its own last look.
    /// </summary>
    public bool HasItems
    {
        get
        {
            var ring = Volatile.Read(ref _head);
            if (ring is null)
            {
                return false;
            }

            var position = Volatile.Read(ref _headPosition);
            if (Volatile.Read(ref ring.Slots[position & ring.Mask].Sequence) == position + 1)
            {
                return true;
            }

            var next = ring.IsDrainedAt(position) ? Volatile.Read(ref ring.Next) : null;
            return next is not null && Volatile.Read(ref next.Slots[0].Sequence) == 1;
        }
    }

    /// <summary>
    /// About how many items wait, for metrics: safe from any thread and never negative, but read
    /// without stopping producers or the consumer, so it may be off by what moves meanwhile. Walks
    /// the rings, so it costs nothing on enqueue or dequeue and a little per ring when read.
    /// </summary>
    public int ApproximateCount
    {
        get
        {
            var ring = Volatile.Read(ref _head);
            if (ring is null)
            {
                return 0;
            }

            // Positions count from 0 in every ring and wrap; the consumer's is in the first ring.
            long count = ring.Waiting(Volatile.Read(ref _headPosition));
            for (var next = Volatile.Read(ref ring.Next); next is not null; next = Volatile.Read(ref next.Next))
            {
                count += next.Waiting(0);
            }

            return (int)Math.Clamp(count, 0, int.MaxValue);
        }
    }

    private Ring InitializeFirstRing()
    {
        // The consumer starts from _head, never from _tail, which may already have moved on.
        var created = new Ring(FirstRingLength);
        var first = Interlocked.CompareExchange(ref _head, created, null) ?? created;
        Interlocked.CompareExchange(ref _tail, first, null);
        return Volatile.Read(ref _tail)!;
    }

    /// <summary>Freezes the full <paramref name="ring"/>, links the next one if nobody did and moves the tail to it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private Ring Grow(Ring ring)
    {
        Ring next;
        lock (ring)
        {
            ring.Freeze();
            next = ring.Next ?? new Ring(Math.Min(ring.Slots.Length * 2, MaxRingLength));
            Volatile.Write(ref ring.Next, next);
        }

        Interlocked.CompareExchange(ref _tail, next, ring);
        return next;
    }

    private struct Slot
    {
        public T Item;
        public int Sequence;
    }

    private sealed class Ring
    {
        public readonly Slot[] Slots;
        public readonly int Mask;
        public Ring? Next;          // written under the ring's lock, read without it
        private int _tail;          // the next position to claim; plus FreezeOffset once frozen
        private volatile bool _frozen;

        public Ring(int length)
        {
            Slots = new Slot[length];
            Mask = length - 1;
            for (var i = 0; i < length; i++)
            {
                Slots[i].Sequence = i;
            }
        }

        /// <summary>Added to the tail to freeze the ring: two laps, so no slot's sequence can match a claim.</summary>
        private int FreezeOffset => Slots.Length * 2;

        /// <summary>
        /// How many claimed items wait in this ring, the consumer being at <paramref name="consumed"/>:
        /// between 0 and the ring's length whatever the reads see (a frozen tail holds the two-lap
        /// offset; a position read from another ring, by a reader racing the consumer, gives nonsense
        /// that is clamped, so the error stays under one ring).
        /// </summary>
        public int Waiting(int consumed)
        {
            var length = Slots.Length;
            var waiting = Volatile.Read(ref _tail) - consumed;
            if ((uint)waiting >= (uint)FreezeOffset)
            {
                waiting -= FreezeOffset;
            }

            return Math.Clamp(waiting, 0, length);
        }

        public bool TryEnqueue(T item)
        {
            var slots = Slots;
            var position = Volatile.Read(ref _tail);
            while (true)
            {
                ref var slot = ref slots[position & Mask];
                var difference = Volatile.Read(ref slot.Sequence) - position;
                if (difference == 0)
                {
                    var seen = Interlocked.CompareExchange(ref _tail, position + 1, position);
                    if (seen == position)
                    {
                        slot.Item = item;
                        Volatile.Write(ref slot.Sequence, position + 1);
                        return true;
                    }

                    position = seen;
                }
                else if (difference < 0)
                {
                    return false; // full, or frozen
                }
                else
                {
                    position = Volatile.Read(ref _tail); // another producer claimed it first
                }
            }
        }

        /// <summary>Stops all further claims; under the ring's lock, at most once.</summary>
        public void Freeze()
        {
            if (!_frozen)
            {
                Interlocked.Add(ref _tail, FreezeOffset);
                _frozen = true;
            }
        }

        /// <summary>Whether the ring is frozen and the consumer, at <paramref name="position"/>, took everything claimed in it.</summary>
        public bool IsDrainedAt(int position) => _frozen && position == Volatile.Read(ref _tail) - FreezeOffset;
    }
}
