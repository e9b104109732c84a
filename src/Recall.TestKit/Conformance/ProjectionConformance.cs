using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.InMemory;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.Projections;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>The event the projection conformance suite writes: its value is its place among the suite's events (1, 2, ...).</summary>
/// <param name="Value">The place of the event among those the test wrote.</param>
[EventType("recall.testkit.projection-conformance.v1")]
public sealed record ProjectionConformanceEvent(int Value);

/// <summary>
/// The contract of a projection target, as xunit tests: every offset store (through
/// <see cref="Projection.AtLeastOnce"/>) and every exactly-once projection (SQLite, PostgreSQL, a
/// store of one's own) passes the same tests. Derive, build the projection under test in
/// <see cref="CreateProjection"/> and read its read model and stored row back in
/// <see cref="ReadModelAsync"/> and <see cref="ReadStoredAsync"/>. The suite writes the events
/// itself, to an in-memory journal, and runs each projection in an actor system of its own
/// (a second one stands for a new process).
/// </summary>
/// <remarks>
/// <para><b>Capability flag.</b> The projection's own <see cref="Projection.IsExactlyOnce"/>: the
/// suite holds it to what it claims. Exactly-once: after a failing handler no envelope is applied
/// twice. At-least-once: an envelope may be applied again, but none is ever skipped and the first
/// applications keep the stream's order.</para>
/// </remarks>
public abstract class ProjectionConformance : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private readonly InMemoryJournal _journal = new(new EventSerialization(), serialize: false);
    private readonly List<ActorSystem> _systems = [];
    private readonly List<Offset> _offsets = [];
    private int _written;
    private int _others;
    private bool _exactlyOnce = true;

    /// <summary>The tag of the suite's events, unique to the test (the source's key).</summary>
    protected string Tag { get; } = "pc-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>
    /// The projection under test, named <paramref name="name"/>, over <paramref name="source"/>. For
    /// each envelope its handler first records the envelope in the read model of
    /// <paramref name="name"/> (persistence id and sequence number, in the order handled, without a
    /// key: an envelope handled twice shows twice), then calls <paramref name="check"/>, whose
    /// exception must fail the handler. Its clear step (of a rebuild) empties that read model.
    /// </summary>
    protected abstract Projection CreateProjection(string name, ProjectionSource source, Action<EventEnvelope> check);

    /// <summary>What the read model of <paramref name="name"/> holds, in the order recorded, read from the target.</summary>
    protected abstract Task<IReadOnlyList<(string PersistenceId, long SequenceNumber)>> ReadModelAsync(string name);

    /// <summary>The stored row of <paramref name="id"/>, read from the target (not from the running projection).</summary>
    protected abstract Task<StoredProjection?> ReadStoredAsync(ProjectionId id);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var system in _systems)
        {
            await system.DisposeAsync();
        }
    }

    /// <summary>PC1: catching up applies every event of the source once, in order, and stores the last offset and its timestamp.</summary>
    [Fact]
    public async Task PC1_Catch_up_applies_each_event_once_in_order_and_stores_the_last_offset()
    {
        await WriteAsync(25);
        await WriteAsync(5, tag: "other-" + Tag);

        var handle = Start(NewSystem(), "model");
        await WaitAsync(handle, _offsets[24]);

        Assert.Equal(Expected(1, 25), await ReadModelAsync("model"));
        var stored = await ReadStoredAsync(handle.Id);
        Assert.NotNull(stored);
        Assert.Equal(_offsets[24], stored.Offset);
        Assert.Equal(T0.AddSeconds(25), stored.LastEventTimestamp);
        Assert.Equal(ProjectionState.Running, stored.State);
    }

    /// <summary>PC2: a handler that fails in the middle of a batch restarts the projection; no event is lost, and none applied twice where exactly-once.</summary>
    [Fact]
    public async Task PC2_A_failing_handler_restarts_and_loses_nothing()
    {
        await WriteAsync(30);
        var failed = 0;

        var handle = Start(NewSystem(), "model", check: envelope =>
        {
            if (((ProjectionConformanceEvent)envelope.Event).Value == 17 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("the read model refused event 17");
            }
        });
        await WaitAsync(handle, _offsets[29]);

        AssertApplied(Expected(1, 30), await ReadModelAsync("model"));
        Assert.Equal(1, handle.Status.Restarts);
        var stored = await ReadStoredAsync(handle.Id);
        Assert.Contains("the read model refused event 17", stored!.LastError, StringComparison.Ordinal);
        Assert.Equal(_offsets[29], stored.Offset);
    }

    /// <summary>PC3: a new process (actor system) goes on from the stored offset.</summary>
    [Fact]
    public async Task PC3_A_new_process_goes_on_from_the_stored_offset()
    {
        await WriteAsync(20);
        var first = NewSystem();
        await WaitAsync(Start(first, "model"), _offsets[19]);
        await first.TerminateAsync();

        await WriteAsync(10);
        var handle = Start(NewSystem(), "model");
        await WaitAsync(handle, _offsets[29]);

        AssertApplied(Expected(1, 30), await ReadModelAsync("model"));
        Assert.Equal(_offsets[29], (await ReadStoredAsync(handle.Id))!.Offset);
    }

    /// <summary>PC4: pause is stored; resume goes on with the events written meanwhile.</summary>
    [Fact]
    public async Task PC4_Pause_is_stored_and_resume_goes_on()
    {
        await WriteAsync(10);
        var handle = Start(NewSystem(), "model");
        await WaitAsync(handle, _offsets[9]);

        await handle.PauseAsync();
        Assert.Equal(ProjectionState.Paused, (await ReadStoredAsync(handle.Id))!.State);
        await WriteAsync(10);
        await handle.ResumeAsync();
        await WaitAsync(handle, _offsets[19]);

        AssertApplied(Expected(1, 20), await ReadModelAsync("model"));
        Assert.Equal(ProjectionState.Running, (await ReadStoredAsync(handle.Id))!.State);
    }

    /// <summary>PC5: a reset stores the offset and keeps the read model: the events after it are applied again.</summary>
    [Fact]
    public async Task PC5_Reset_keeps_the_read_model_and_applies_the_events_after_the_offset_again()
    {
        await WriteAsync(20);
        var handle = Start(NewSystem(), "model");
        await WaitAsync(handle, _offsets[19]);

        await handle.PauseAsync();
        await handle.ResetAsync(_offsets[9]);
        Assert.Equal(_offsets[9], (await ReadStoredAsync(handle.Id))!.Offset);
        await handle.ResumeAsync();
        await EventuallyAsync(async () => (await ReadModelAsync("model")).Count >= 30);
        await WaitAsync(handle, _offsets[19]);

        AssertApplied([.. Expected(1, 20), .. Expected(11, 20)], await ReadModelAsync("model"));
    }

    /// <summary>PC6: a rebuild empties the read model and applies every event again, once.</summary>
    [Fact]
    public async Task PC6_Rebuild_empties_the_read_model_and_applies_every_event_again()
    {
        await WriteAsync(20);
        var handle = Start(NewSystem(), "model");
        await WaitAsync(handle, _offsets[19]);

        await handle.PauseAsync();
        await handle.RebuildAsync();
        Assert.Empty(await ReadModelAsync("model"));
        Assert.Equal(Offset.Start, (await ReadStoredAsync(handle.Id))!.Offset);
        await handle.ResumeAsync();
        await EventuallyAsync(async () => (await ReadModelAsync("model")).Count >= 20);
        await WaitAsync(handle, _offsets[19]);

        AssertApplied(Expected(1, 20), await ReadModelAsync("model"));
    }

    /// <summary>PC7: two projections of one source keep offsets and read models of their own.</summary>
    [Fact]
    public async Task PC7_Two_projections_of_one_source_keep_their_own_offsets()
    {
        await WriteAsync(10);
        var system = NewSystem();
        var a = Start(system, "model-a");
        var b = Start(system, "model-b");
        await WaitAsync(a, _offsets[9]);
        await WaitAsync(b, _offsets[9]);

        await a.StopAsync();
        await WriteAsync(10);
        await WaitAsync(b, _offsets[19]);

        Assert.Equal(_offsets[9], (await ReadStoredAsync(a.Id))!.Offset);
        Assert.Equal(ProjectionState.Stopped, (await ReadStoredAsync(a.Id))!.State);
        Assert.Equal(_offsets[19], (await ReadStoredAsync(b.Id))!.Offset);
        AssertApplied(Expected(1, 10), await ReadModelAsync("model-a"));
        AssertApplied(Expected(1, 20), await ReadModelAsync("model-b"));
    }

    /// <summary>The suite's events from <paramref name="first"/> to <paramref name="last"/> (1-based), as the read model records them.</summary>
    private static List<(string PersistenceId, long SequenceNumber)> Expected(int first, int last) =>
        [.. Enumerable.Range(first, last - first + 1).Select(Identity)];

    /// <summary>Event n of the test: persistence ids round-robin over three, sequence numbers counting per id.</summary>
    private static (string PersistenceId, long SequenceNumber) Identity(int n) => ($"pc-{(n - 1) % 3}", ((n - 1) / 3) + 1);

    /// <summary>
    /// Exactly-once: the read model is <paramref name="expected"/>. At-least-once: every expected
    /// entry is there, nothing else, and the first applications follow the expected order.
    /// </summary>
    private void AssertApplied(List<(string PersistenceId, long SequenceNumber)> expected, IReadOnlyList<(string PersistenceId, long SequenceNumber)> actual)
    {
        if (_exactlyOnce)
        {
            Assert.Equal(expected, actual);
            return;
        }

        Assert.Equal(expected.Distinct().Order(), actual.Distinct().Order());
        var remaining = expected.GroupBy(e => e).ToDictionary(g => g.Key, g => g.Count());
        var firsts = new List<(string, long)>();
        foreach (var entry in actual)
        {
            if (remaining.TryGetValue(entry, out var left) && left > 0)
            {
                remaining[entry] = left - 1;
                firsts.Add(entry);
            }
        }

        Assert.Equal(expected, firsts);
    }

    private ActorSystem NewSystem()
    {
        var system = ActorSystem.Create("projection-conformance", o => o
            .UsePersistence(p => p.UseJournal(_journal))
            .UseProjections());
        _systems.Add(system);
        return system;
    }

    private ProjectionHandle Start(ActorSystem system, string name, Action<EventEnvelope>? check = null)
    {
        var projection = CreateProjection(name, ProjectionSource.EventsByTag(Tag), check ?? (_ => { }));
        _exactlyOnce = projection.IsExactlyOnce;
        projection.Options.MaxBatchSize = 7;
        projection.Options.MinBackoff = TimeSpan.FromMilliseconds(20);
        projection.Options.MaxBackoff = TimeSpan.FromMilliseconds(200);
        return system.Projections().Start(projection);
    }

    /// <summary>Writes the next <paramref name="count"/> events (tagged <see cref="Tag"/> unless <paramref name="tag"/> says otherwise).</summary>
    private async Task WriteAsync(int count, string? tag = null)
    {
        for (var i = 0; i < count; i++)
        {
            if (tag is not null)
            {
                var other = new PersistentRepr("other-" + Tag, ++_others, new ProjectionConformanceEvent(-1)) { Timestamp = T0, Tags = [tag], WriterId = "conformance" };
                Assert.Null((await _journal.WriteAsync([new AtomicWrite(other)], CancellationToken.None))[0]);
                continue;
            }

            var n = ++_written;
            var (persistenceId, sequenceNumber) = Identity(n);
            var repr = new PersistentRepr(persistenceId, sequenceNumber, new ProjectionConformanceEvent(n)) { Timestamp = T0.AddSeconds(n), Tags = [Tag], WriterId = "conformance" };
            Assert.Null((await _journal.WriteAsync([new AtomicWrite(repr)], CancellationToken.None))[0]);
            _offsets.Add(await _journal.ReadLatestOffsetAsync(CancellationToken.None));
        }
    }

    private static async Task WaitAsync(ProjectionHandle handle, Offset offset)
    {
        try
        {
            await handle.WaitForOffsetAsync(offset).WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"projection {handle.Id} did not reach {offset} within {Timeout.TotalSeconds:0} s: {handle.Status}");
        }
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, "the condition did not hold within the timeout");
            await Task.Delay(20);
        }
    }
}
