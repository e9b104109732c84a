using System.Runtime.CompilerServices;
using Recall.Actors.Internal;

namespace Recall.Actors.Tests;

public sealed class MpscQueueTests
{
    /// <summary>The queue is a mutable struct: keep it in a field and call it in place.</summary>
    private sealed class Box<T>
    {
        public MpscQueue<T> Queue;
    }

    [Fact]
    public void A_new_queue_is_empty()
    {
        var box = new Box<int>();

        Assert.False(box.Queue.HasItems);
        Assert.False(box.Queue.TryDequeue(out _));
    }

    [Fact]
    public void One_thread_gets_its_items_back_in_order_across_ring_growth()
    {
        var box = new Box<int>();
        const int count = 20_000; // rings of 8, 16, ... 1024, 1024, ...

        for (var i = 0; i < count; i++)
        {
            box.Queue.Enqueue(i);
        }

        for (var i = 0; i < count; i++)
        {
            Assert.True(box.Queue.HasItems);
            Assert.True(box.Queue.TryDequeue(out var item));
            Assert.Equal(i, item);
        }

        Assert.False(box.Queue.HasItems);
        Assert.False(box.Queue.TryDequeue(out _));
    }

    [Fact]
    public void Interleaved_enqueues_and_dequeues_keep_fifo_order_across_ring_laps_and_growth()
    {
        var box = new Box<int>();
        var next = 0;
        var expected = 0;
        for (var round = 1; round < 200; round++)
        {
            for (var i = 0; i < round % 13 + 1; i++)
            {
                box.Queue.Enqueue(next++);
            }

            for (var i = 0; i < round % 7 + 1 && box.Queue.TryDequeue(out var item); i++)
            {
                Assert.Equal(expected++, item);
            }
        }

        while (box.Queue.TryDequeue(out var item))
        {
            Assert.Equal(expected++, item);
        }

        Assert.Equal(next, expected);
    }

    [Fact]
    public void A_consumer_that_keeps_up_reuses_the_ring_and_allocates_nothing()
    {
        var box = new Box<object>();
        var message = new object();
        for (var i = 0; i < 100; i++)
        {
            box.Queue.Enqueue(message); // the first ring and its growth to hold 100
        }

        while (box.Queue.TryDequeue(out _))
        {
        }

        PassThrough(box, message, laps: 100); // the same code once before measuring: first calls may allocate (type loading, JIT)
        var before = GC.GetAllocatedBytesForCurrentThread();
        PassThrough(box, message, laps: 10_000);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, box.Queue.ApproximateCount);
    }

    private static void PassThrough(Box<object> box, object message, int laps)
    {
        for (var lap = 0; lap < laps; lap++)
        {
            for (var i = 0; i < 50; i++)
            {
                box.Queue.Enqueue(message);
            }

            for (var i = 0; i < 50; i++)
            {
                if (!box.Queue.TryDequeue(out var item) || !ReferenceEquals(item, message))
                {
                    Assert.Fail($"lap {lap}, item {i}: the queue did not give back what was enqueued");
                }
            }
        }
    }

    [Fact]
    public void The_approximate_count_is_exact_on_a_ring_used_for_many_laps_and_then_outgrown()
    {
        var box = new Box<int>();
        for (var lap = 0; lap < 100_000; lap++)
        {
            for (var i = 0; i < 10; i++)
            {
                box.Queue.Enqueue(i); // the ring grows to 16 once, then serves every lap
            }

            Assert.Equal(10, box.Queue.ApproximateCount);
            while (box.Queue.TryDequeue(out _))
            {
            }
        }

        for (var i = 0; i < 3_000; i++)
        {
            box.Queue.Enqueue(i); // freezes the 16-slot ring, then rings of 32 ... 1024, 1024
        }

        Assert.Equal(3_000, box.Queue.ApproximateCount);
        for (var i = 0; i < 2_990; i++)
        {
            Assert.True(box.Queue.TryDequeue(out _));
        }

        Assert.Equal(10, box.Queue.ApproximateCount);
    }

    [Fact]
    public void Dequeued_references_are_released()
    {
        var box = new Box<object>();
        var references = EnqueueAndDequeue(box, 100);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.All(references, r => Assert.False(r.IsAlive));
        GC.KeepAlive(box);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<WeakReference> EnqueueAndDequeue(Box<object> box, int count)
    {
        var references = new List<WeakReference>();
        for (var i = 0; i < count; i++)
        {
            var item = new object();
            references.Add(new WeakReference(item));
            box.Queue.Enqueue(item);
        }

        for (var i = 0; i < count; i++)
        {
            Assert.True(box.Queue.TryDequeue(out _));
        }

        return references;
    }
}

[Collection(StressTests.Name)]
public sealed class MpscQueueStressTests
{
    private sealed class Box<T>
    {
        public MpscQueue<T> Queue;
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(16, 0)]
    [InlineData(0, 5_000)]
    public async Task Four_producers_of_100k_items_each_deliver_every_item_once_in_per_producer_order(int burst, int consumerPause)
    {
        // burst > 0: each producer pauses after every burst items, so the consumer often finds the
        // queue empty while producers keep claiming slots. consumerPause > 0: the consumer rests after
        // every that many items, so the producers fill ring after ring while it is away (frozen rings
        // are linked, claimed across and left by the consumer, all at once).
        var box = new Box<long>();
        const int producers = 4, perProducer = 100_000;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var producing = Enumerable.Range(0, producers).Select(p => Task.Factory.StartNew(
            () =>
            {
                start.Task.Wait();
                for (long i = 0; i < perProducer; i++)
                {
                    box.Queue.Enqueue(((long)p << 32) | i);
                    if (burst > 0 && i % burst == 0)
                    {
                        Thread.SpinWait(200);
                    }
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();

        var consuming = Task.Factory.StartNew(
            () =>
            {
                var next = new long[producers];
                var received = 0;
                var spin = default(SpinWait);
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                while (received < producers * perProducer && DateTime.UtcNow < deadline)
                {
                    if (!box.Queue.TryDequeue(out var item))
                    {
                        spin.SpinOnce();
                        continue;
                    }

                    if (consumerPause > 0 && received % consumerPause == 0)
                    {
                        Thread.Sleep(1);
                    }

                    var producer = (int)(item >> 32);
                    var sequence = item & 0xFFFF_FFFF;
                    Assert.Equal(next[producer], sequence); // in order, none lost, none twice
                    next[producer]++;
                    received++;
                }

                return next;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        start.SetResult();
        await Task.WhenAll(producing);
        var counts = await consuming;

        Assert.Equal(Enumerable.Repeat((long)perProducer, producers), counts);
        Assert.False(box.Queue.TryDequeue(out _));
    }

    [Fact]
    public async Task A_reader_on_another_thread_sees_a_bounded_count_while_rings_grow_and_are_left()
    {
        // The producer and consumer share one thread (so the counts are exact) and alternate many
        // short laps on one ring (10,000 items through it) with bursts that outgrow it; a second
        // thread reads the count and HasItems meanwhile. A read that mixed one ring's tail with the
        // next ring's position would count the first ring's whole history; a read that raced the
        // consumer may overcount by at most the lengths of the rings it walked (1,024 + 1,024 here).
        var box = new Box<int>();
        long enqueued = 0, dequeued = 0;
        var stop = false;
        var reading = Task.Factory.StartNew(
            () =>
            {
                var worst = 0L;
                while (!Volatile.Read(ref stop))
                {
                    var before = Volatile.Read(ref dequeued);
                    var count = box.Queue.ApproximateCount;
                    _ = box.Queue.HasItems;
                    var after = Volatile.Read(ref enqueued);
                    worst = Math.Max(worst, count - (after - before));
                }

                return worst;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        for (var cycle = 0; cycle < 60; cycle++)
        {
            for (var lap = 0; lap < 2_000; lap++)
            {
                for (var i = 0; i < 5; i++)
                {
                    box.Queue.Enqueue(i);
                    Volatile.Write(ref enqueued, enqueued + 1);
                }

                while (box.Queue.TryDequeue(out _))
                {
                    Volatile.Write(ref dequeued, dequeued + 1);
                }
            }

            for (var i = 0; i < 1_500; i++)
            {
                box.Queue.Enqueue(i);
                Volatile.Write(ref enqueued, enqueued + 1);
            }

            while (box.Queue.TryDequeue(out _))
            {
                Volatile.Write(ref dequeued, dequeued + 1);
            }
        }

        Volatile.Write(ref stop, true);
        var excess = await reading;

        Assert.Equal(enqueued, dequeued);
        Assert.True(excess <= 4_096, $"A concurrent read counted {excess} more items than could be waiting (at most the rings' lengths are allowed).");
    }

    [Fact]
    public void Memory_stays_bounded_while_many_items_pass_through()
    {
        // 8M items of 16-byte slots: a queue that kept its consumed segments would hold ~128 MB.
        var box = new Box<long>();
        for (var i = 0; i < 1_000; i++)
        {
            box.Queue.Enqueue(i);
            box.Queue.TryDequeue(out _);
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        for (var batch = 0; batch < 8_000; batch++)
        {
            for (var i = 0; i < 1_000; i++)
            {
                box.Queue.Enqueue(i);
            }

            for (var i = 0; i < 1_000; i++)
            {
                Assert.True(box.Queue.TryDequeue(out _));
            }
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(box);

        Assert.True(after - before < 16 * 1024 * 1024, $"The queue retained {(after - before) / 1024 / 1024} MB after its items were consumed.");
    }
}
