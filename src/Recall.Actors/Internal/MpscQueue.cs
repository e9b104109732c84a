using System.Runtime.CompilerServices;

namespace Recall.Actors.Internal;

/// <summary>
/// An unbounded lock-free queue for many producers and one consumer, storing items inline in
/// linked array segments so that an enqueue allocates nothing except, now and then, a segment.
/// </summary>
/// <remarks>
/// Producers reserve a slot with one interlocked increment on the tail segment and publish it with
/// a release write of the slot's flag; the consumer reads slots in order and never writes shared
/// state other than the slots it has consumed and <c>_first</c>, which it moves along so that
/// consumed segments can be collected. The first segment is created on the first enqueue,
/// so an actor that never receives a user message pays nothing for its mailbox.
/// </remarks>
internal struct MpscQueue<T>
{
    private const int FirstSegmentLength = 8;
    private const int MaxSegmentLength = 2048;

    private Segment? _first;  // set by the first enqueue; then the consumer's current segment
    private Segment? _head;   // consumer only
    private int _headIndex;   // consumer only
    private Segment? _tail;   // producers

    /// <summary>Adds an item; safe to call from any number of threads at once.</summary>
    public void Enqueue(T item)
    {
        var tail = Volatile.Read(ref _tail) ?? InitializeFirstSegment();
        while (true)
        {
            var index = Interlocked.Increment(ref tail.Reserved) - 1;
            if (index < tail.Slots.Length)
            {
                ref var slot = ref tail.Slots[index];
                slot.Item = item;
                Volatile.Write(ref slot.Published, 1);
                return;
            }

            // The segment is full: link (or find) the next one and retry there. Whoever wins the
            // compare-exchange provides the segment; the others use it.
            var next = Volatile.Read(ref tail.Next);
            if (next is null)
            {
                var created = new Segment(Math.Min(tail.Slots.Length * 2, MaxSegmentLength));
                next = Interlocked.CompareExchange(ref tail.Next, created, null) ?? created;
            }

            Interlocked.CompareExchange(ref _tail, next, tail);
            tail = next;
        }
    }

    /// <summary>Takes the oldest published item; consumer thread only.</summary>
    public bool TryDequeue(out T item)
    {
        var head = _head;
        if (head is null)
        {
            head = Volatile.Read(ref _first);
            if (head is null)
            {
                item = default!;
                return false;
            }

            _head = head;
        }

        var index = _headIndex;
        if (index == head.Slots.Length)
        {
            var next = Volatile.Read(ref head.Next);
            if (next is null)
            {
                item = default!;
                return false;
            }

            _head = head = next;
            _headIndex = index = 0;

            // Drop the consumed segment: _first would otherwise keep the whole chain alive.
            Volatile.Write(ref _first, next);
        }

        ref var slot = ref head.Slots[index];
        if (Volatile.Read(ref slot.Published) == 0)
        {
            // Either empty, or a producer reserved this slot and has not published it yet; that
            // producer schedules the consumer again after publishing, so nothing is lost.
            item = default!;
            return false;
        }

        item = slot.Item;
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            slot.Item = default!;
        }

        _headIndex = index + 1;
        return true;
    }

    /// <summary>
    /// Whether a published item is waiting. Meant for the consumer thread, but also safe (never
    /// throws, may answer true spuriously) while another thread consumes: the end of a turn asks
    /// after clearing the scheduled flag, when the next turn may already run elsewhere and move
    /// the head to another segment between the reads of <c>_head</c> and <c>_headIndex</c>.
    /// </summary>
    public bool HasItems
    {
        get
        {
            var head = Volatile.Read(ref _head) ?? Volatile.Read(ref _first);
            if (head is null)
            {
                return false;
            }

            var index = Volatile.Read(ref _headIndex);
            var slots = head.Slots;
            if (index == slots.Length)
            {
                var next = Volatile.Read(ref head.Next);
                if (next is null)
                {
                    return false;
                }

                slots = next.Slots;
                index = 0;
            }

            if ((uint)index >= (uint)slots.Length)
            {
                // A torn read of a head that another thread is moving: someone is consuming.
                return true;
            }

            return Volatile.Read(ref slots[index].Published) != 0;
        }
    }

    /// <summary>
    /// About how many items wait, for metrics: safe from any thread and never negative, but read
    /// without stopping producers or the consumer, so it may be off by what moves meanwhile (up to
    /// one segment when the consumer crosses into the next one during the read). Walks the
    /// segments, so it costs nothing on enqueue or dequeue and a little per segment when read.
    /// </summary>
    public int ApproximateCount
    {
        get
        {
            var segment = Volatile.Read(ref _first);
            if (segment is null)
            {
                return 0;
            }

            // _first moves to the segment the consumer is in, and _headIndex counts what it took there.
            long count = -Volatile.Read(ref _headIndex);
            for (; segment is not null; segment = Volatile.Read(ref segment.Next))
            {
                count += Math.Min(Volatile.Read(ref segment.Reserved), segment.Slots.Length);
            }

            return (int)Math.Clamp(count, 0, int.MaxValue);
        }
    }

    private Segment InitializeFirstSegment()
    {
        // The consumer starts from _first, never from _tail, which may already have moved on.
        var created = new Segment(FirstSegmentLength);
        var first = Interlocked.CompareExchange(ref _first, created, null) ?? created;
        Interlocked.CompareExchange(ref _tail, first, null);
        return Volatile.Read(ref _tail)!;
    }

    private struct Slot
    {
        public T Item;
        public int Published;
    }

    private sealed class Segment(int length)
    {
        public readonly Slot[] Slots = new Slot[length];
        public int Reserved;
        public Segment? Next;
    }
}
