using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The journal half of the store conformance checklist (items J01 to J22, listed in
/// docs/custom-store.md), one xunit test per item. Every <see cref="IJournal"/> passes it: subclass
/// it in a test project, implement <see cref="CreateJournal"/>, and turn a capability flag off only
/// where the checklist calls the item optional.
/// </summary>
/// <remarks>
/// <para><b>Store per test.</b> xunit creates a new instance of the class for each test, and each
/// test calls <see cref="CreateJournal"/> once: return a fresh, empty store every time (for a
/// database, a new schema, database or file per call). The suite also uses persistence ids unique
/// to the test, so a store that cannot be emptied still gives correct results, only slower.</para>
/// <para><b>Lifetime.</b> <see cref="InitializeAsync"/> runs before each test and
/// <see cref="DisposeAsync"/> after it; override them to start or clean up what the store needs.
/// A journal that implements <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/> is disposed
/// after its test.</para>
/// <para><b>Capability flags.</b> Each flag is a virtual property that is true by default. xunit 2
/// cannot skip a test at run time, so a test whose capability is turned off returns at once and is
/// reported as passed: the flag in the subclass, not the test report, is the record of what the
/// store does not do.</para>
/// <para><b>Fixture.</b> One persistence id with events 1 to 5, where 1, 2 and 3 are three atomic
/// writes of one batch and 4 and 5 are one atomic write of a second batch. Events 1 to 3 are
/// written by <see cref="FirstWriterId"/>, 4 and 5 by <see cref="SecondWriterId"/>; timestamps are
/// UTC with microsecond precision; event 3 is a <see cref="Noted"/>, the others are
/// <see cref="Happened"/>; events whose text contains "green" carry the tag "green".</para>
/// </remarks>
public abstract class JournalConformance : IAsyncLifetime
{
    /// <summary>The writer id of fixture events 1 to 3.</summary>
    protected const string FirstWriterId = "writer-a";

    /// <summary>The writer id of fixture events 4 and 5, as if a second incarnation of the actor wrote them.</summary>
    protected const string SecondWriterId = "writer-b";

    /// <summary>The size of the large payload of J20: 1 MiB of text.</summary>
    protected const int LargePayloadLength = 1024 * 1024;

    /// <summary>The timestamp of event 0: event <c>n</c> is stamped <c>n</c> seconds later. It has microseconds, which every store must keep.</summary>
    protected static readonly DateTimeOffset TimestampOrigin = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1_234_560);

    private readonly List<IJournal> _journals = [];

    /// <summary>Creates the suite with a persistence id unique to this test.</summary>
    protected JournalConformance()
    {
        PersistenceId = "tck-journal-" + Guid.NewGuid().ToString("N")[..12];
    }

    /// <summary>An event of the fixture and of most tests, stored under the manifest <c>tck.happened.v1</c>.</summary>
    /// <param name="Number">The sequence number the event was written at.</param>
    /// <param name="Text">Free text; its colour word decides the tags.</param>
    [EventType("tck.happened.v1")]
    public sealed record Happened(long Number, string Text);

    /// <summary>A second event type with another manifest, <c>tck.noted.v1</c>, so that replay must keep manifests apart.</summary>
    /// <param name="Note">Free text.</param>
    /// <param name="Weight">A number.</param>
    [EventType("tck.noted.v1")]
    public sealed record Noted(string Note, int Weight);

    /// <summary>
    /// An event that no store can serialize: it has no manifest, and reading its property throws.
    /// Writing it must be a rejection of its atomic write, not a failure of the batch.
    /// </summary>
    public sealed class Unserializable
    {
        /// <summary>Throws: the value has no stored form.</summary>
        public string Value => throw new InvalidOperationException($"{GetType().Name} has no stored form.");
    }

    /// <summary>
    /// Whether an atomic write of several events is stored all or nothing (J17). The checklist lets a
    /// store that cannot do this turn it off; the runtime then never gives it such a write.
    /// </summary>
    protected virtual bool SupportsAtomicMultiEventWrites => true;

    /// <summary>The persistence id of the fixture, unique to this test.</summary>
    protected string PersistenceId { get; }

    /// <summary>
    /// Creates a fresh, empty journal that serializes with <paramref name="serialization"/>, in which
    /// every event type of the suite is registered. Called once per test.
    /// </summary>
    protected abstract IJournal CreateJournal(EventSerialization serialization);

    /// <summary>Runs before each test; override to prepare what <see cref="CreateJournal"/> needs.</summary>
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Runs after each test: disposes the journals the test created. Override to clean up more, and call the base.</summary>
    public virtual async Task DisposeAsync()
    {
        await ConformanceText.DisposeAllAsync(_journals);
        _journals.Clear();
    }

    /// <summary>J1: replaying everything returns events 1 to 5 as written; the highest sequence number is 5.</summary>
    [Fact]
    public async Task J01_Replays_all_events_and_reports_highest_5()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 3, 4, 5]);
    }

    /// <summary>J2: replaying from a lower bound of 3 returns 3 to 5.</summary>
    [Fact]
    public async Task J02_Replays_from_a_lower_bound()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 3, long.MaxValue, long.MaxValue, [3, 4, 5]);
    }

    /// <summary>J3: replaying to an upper bound of 3 returns 1 to 3.</summary>
    [Fact]
    public async Task J03_Replays_to_an_upper_bound()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 1, 3, long.MaxValue, [1, 2, 3]);
    }

    /// <summary>J4: replaying with a count limit of 3 returns 1 to 3.</summary>
    [Fact]
    public async Task J04_Replays_with_a_count_limit()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 1, long.MaxValue, 3, [1, 2, 3]);
    }

    /// <summary>J5: replaying between a lower and an upper bound (2 to 3) returns 2 and 3.</summary>
    [Fact]
    public async Task J05_Replays_between_lower_and_upper_bounds()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 2, 3, long.MaxValue, [2, 3]);
    }

    /// <summary>J6: lower bound, upper bound and count together (2 to 5, at most 2) return 2 and 3.</summary>
    [Fact]
    public async Task J06_Replays_with_bounds_and_a_count_limit()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 2, 5, 2, [2, 3]);
    }

    /// <summary>J7: equal lower and upper bounds (2 to 2) return event 2 alone.</summary>
    [Fact]
    public async Task J07_Replays_one_event_when_lower_equals_upper()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 2, 2, long.MaxValue, [2]);
    }

    /// <summary>J8: a count limit of 1 (2 to 4) returns event 2 alone.</summary>
    [Fact]
    public async Task J08_Replays_one_event_when_max_is_1()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 2, 4, 1, [2]);
    }

    /// <summary>J9: a count limit of 0 replays nothing, and the highest sequence number is still 5.</summary>
    [Fact]
    public async Task J09_Replays_nothing_when_max_is_0()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 1, long.MaxValue, 0, []);
    }

    /// <summary>J10: a lower bound above the upper bound replays nothing, and the highest sequence number is still 5.</summary>
    [Fact]
    public async Task J10_Replays_nothing_when_lower_is_above_upper()
    {
        var journal = await JournalWithFixtureAsync();
        await AssertReplayAsync(journal, 4, 3, long.MaxValue, []);
    }

    /// <summary>
    /// J11: an unknown persistence id replays nothing and has highest sequence number 0, also when it
    /// is a prefix of a stored id or extends one (a store must match ids exactly).
    /// </summary>
    [Fact]
    public async Task J11_Unknown_persistence_id_replays_nothing_and_reports_highest_0()
    {
        var journal = await JournalWithFixtureAsync();
        foreach (var unknown in new[] { PersistenceId + "-unknown", PersistenceId[..^1], PersistenceId + "%" })
        {
            Assert.Empty(await ReplayAllAsync(journal, unknown));
            Assert.Equal(0, await journal.ReadHighestSequenceNumberAsync(unknown, 0, default));
            Assert.Equal(0, await journal.ReadHighestSequenceNumberAsync(unknown, 1, default));
        }
    }

    /// <summary>
    /// J12: the highest sequence number can be read without replaying first, whatever the lower
    /// hint at or below it, and follows new writes.
    /// </summary>
    [Fact]
    public async Task J12_Reads_the_highest_sequence_number_without_replaying()
    {
        var journal = await JournalWithFixtureAsync();
        foreach (var hint in new long[] { 0, 1, 3, 5 })
        {
            Assert.Equal(5, await journal.ReadHighestSequenceNumberAsync(PersistenceId, hint, default));
        }

        await WriteStoredAsync(journal, new AtomicWrite(Event(6)));
        Assert.Equal(6, await journal.ReadHighestSequenceNumberAsync(PersistenceId, 5, default));
    }

    /// <summary>J13: after deleting to 3, replay returns 4 and 5 only.</summary>
    [Fact]
    public async Task J13_Delete_to_3_leaves_4_and_5()
    {
        var journal = await JournalWithFixtureAsync();
        await journal.DeleteToAsync(PersistenceId, 3, default);

        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [4, 5]);
        await AssertReplayAsync(journal, 1, 3, long.MaxValue, []);
    }

    /// <summary>
    /// J14: the highest sequence number stays 5 after a partial delete, and a later delete to a
    /// lower bound changes nothing.
    /// </summary>
    [Fact]
    public async Task J14_Highest_stays_5_after_a_partial_delete()
    {
        var journal = await JournalWithFixtureAsync();
        await journal.DeleteToAsync(PersistenceId, 3, default);

        Assert.Equal(5, await journal.ReadHighestSequenceNumberAsync(PersistenceId, 0, default));
        Assert.Equal(5, await journal.ReadHighestSequenceNumberAsync(PersistenceId, 4, default));

        await journal.DeleteToAsync(PersistenceId, 2, default);
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [4, 5]);
    }

    /// <summary>
    /// J15: the highest sequence number stays 5 after deleting everything (to
    /// <see cref="long.MaxValue"/>), so the writer goes on at 6 and replay then returns 6 alone.
    /// </summary>
    [Fact]
    public async Task J15_Highest_stays_5_after_deleting_everything()
    {
        var journal = await JournalWithFixtureAsync();
        await journal.DeleteToAsync(PersistenceId, long.MaxValue, default);

        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, []);
        Assert.Equal(5, await journal.ReadHighestSequenceNumberAsync(PersistenceId, 0, default));

        await WriteStoredAsync(journal, new AtomicWrite(Event(6)));
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [6], expectedHighest: 6);
    }

    /// <summary>
    /// J16: in a batch of three atomic writes whose middle one cannot be serialized, the first and
    /// third are stored, the middle one is rejected (a result that is not a
    /// <see cref="SequenceConflictException"/>), and the batch itself does not fail.
    /// </summary>
    [Fact]
    public async Task J16_An_unserializable_write_is_rejected_alone()
    {
        var journal = NewJournal();

        var results = await journal.WriteAsync(
            [
                new AtomicWrite(Event(1)),
                new AtomicWrite(new PersistentRepr(PersistenceId, 2, new Unserializable()) { WriterId = FirstWriterId, Timestamp = TimestampOf(2) }),
                new AtomicWrite(Event(3)),
            ],
            default);

        Assert.Equal(3, results.Count);
        Assert.Null(results[0]);
        Assert.NotNull(results[1]);
        Assert.IsNotType<SequenceConflictException>(results[1]);
        Assert.Null(results[2]);
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 3], expectedHighest: 3);
    }

    /// <summary>
    /// J17 (optional: <see cref="SupportsAtomicMultiEventWrites"/>): an atomic write of several events
    /// is stored all or nothing. A write of 3 to 5 whose last event already exists stores neither 3
    /// nor 4; a write of 6 to 8 whose middle event cannot be serialized stores none of them.
    /// </summary>
    [Fact]
    public async Task J17_An_atomic_write_of_several_events_is_all_or_nothing()
    {
        if (!SupportsAtomicMultiEventWrites)
        {
            return;
        }

        var journal = NewJournal();
        await WriteStoredAsync(journal, new AtomicWrite([Event(1), Event(2)]));

        // 3 and 4 are missing, as after two rejected writes: the store must accept 5 after the gap.
        await WriteStoredAsync(journal, new AtomicWrite(Event(5)));

        var conflict = await TryWriteAsync(journal, new AtomicWrite([Event(3), Event(4), Event(5) with { Payload = new Happened(5, "a second writer") }]));
        Assert.True(conflict is null || conflict[0] is not null, "An atomic write that overlaps an existing event must not be reported as stored.");
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 5]);

        var unserializable = new PersistentRepr(PersistenceId, 7, new Unserializable()) { WriterId = SecondWriterId, Timestamp = TimestampOf(7) };
        var rejected = await TryWriteAsync(journal, new AtomicWrite([Event(6), unserializable, Event(8)]));
        Assert.True(rejected is null || rejected[0] is not null, "An atomic write with an unserializable event must not be reported as stored.");
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 5]);
    }

    /// <summary>
    /// J18: writer id, timestamp (to the microsecond, in UTC), manifest and tags come back on replay
    /// exactly as written, for each event of the fixture.
    /// </summary>
    [Fact]
    public async Task J18_Writer_timestamp_manifest_and_tags_round_trip()
    {
        var journal = await JournalWithFixtureAsync();
        var replayed = await ReplayAllAsync(journal, PersistenceId);

        Assert.Equal(5, replayed.Count);
        string[] manifests = ["tck.happened.v1", "tck.happened.v1", "tck.noted.v1", "tck.happened.v1", "tck.happened.v1"];
        string[] writers = [FirstWriterId, FirstWriterId, FirstWriterId, SecondWriterId, SecondWriterId];
        string[][] tags = [[], ["green"], [], ["green", "tck-ünïcødé"], ["last"]];
        for (var i = 0; i < replayed.Count; i++)
        {
            var repr = replayed[i];
            Assert.Equal(PersistenceId, repr.PersistenceId);
            Assert.Equal(i + 1, repr.SequenceNumber);
            Assert.Equal(manifests[i], repr.Manifest);
            Assert.Equal(writers[i], repr.WriterId);
            Assert.Equal(TimestampOrigin.AddSeconds(i + 1).UtcTicks, repr.Timestamp.UtcTicks);
            Assert.Equal(TimeSpan.Zero, repr.Timestamp.Offset);
            Assert.Equal(tags[i], repr.Tags);
        }

        Assert.Equal(new Noted("a blue note", 3), replayed[2].Payload);
        Assert.Equal(new Happened(4, "event 4 is green"), replayed[3].Payload);
    }

    /// <summary>
    /// J19: appending an existing (persistence id, sequence number) fails, either with a
    /// <see cref="SequenceConflictException"/> in that write's result or by failing the call; the
    /// stored history is unchanged. Writes of the same batch that are reported stored are stored.
    /// </summary>
    [Fact]
    public async Task J19_Appending_an_existing_sequence_number_fails_and_changes_nothing()
    {
        var journal = await JournalWithFixtureAsync();
        var otherId = PersistenceId + "-other";

        var results = await TryWriteAsync(
            journal,
            new AtomicWrite(Event(3) with { Payload = new Happened(3, "a second writer"), WriterId = "intruder" }),
            new AtomicWrite(Event(1, otherId)));

        if (results is not null)
        {
            var conflict = Assert.IsType<SequenceConflictException>(results[0]);
            Assert.Equal(PersistenceId, conflict.PersistenceId);
            Assert.Equal(3, conflict.SequenceNumber);
            if (results[1] is null)
            {
                Assert.Equal([1L], (await ReplayAllAsync(journal, otherId)).Select(repr => repr.SequenceNumber));
            }
        }

        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 3, 4, 5]);

        if (SupportsAtomicMultiEventWrites)
        {
            var overlapping = await TryWriteAsync(journal, new AtomicWrite([Event(5) with { WriterId = "intruder" }, Event(6)]));
            if (overlapping is not null)
            {
                Assert.IsType<SequenceConflictException>(overlapping[0]);
            }

            await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 3, 4, 5]);
        }
    }

    /// <summary>
    /// J20: many persistence ids written concurrently, each by its own sequential writer, keep their
    /// order; ids are matched exactly (unicode, case, composed and decomposed accents are different
    /// ids); a 1 MiB payload round-trips.
    /// </summary>
    [Fact]
    public async Task J20_Concurrent_ids_unicode_ids_and_a_1_MiB_payload()
    {
        const int writers = 16;
        const int eventsPerWriter = 25;
        var journal = NewJournal();

        var ids = Enumerable.Range(0, writers).Select(i => $"{PersistenceId}-w{i}").ToArray();
        await Task.WhenAll(ids.Select(id => Task.Run(async () =>
        {
            for (var sequenceNumber = 1; sequenceNumber <= eventsPerWriter; sequenceNumber++)
            {
                await WriteStoredAsync(journal, new AtomicWrite(Event(sequenceNumber, id) with { Payload = new Happened(sequenceNumber, id) }));
            }
        })));

        foreach (var id in ids)
        {
            var replayed = await ReplayAllAsync(journal, id);
            Assert.Equal(Enumerable.Range(1, eventsPerWriter).Select(n => (long)n), replayed.Select(repr => repr.SequenceNumber));
            Assert.All(replayed, repr => Assert.Equal(new Happened(repr.SequenceNumber, id), repr.Payload));
            Assert.Equal(eventsPerWriter, await journal.ReadHighestSequenceNumberAsync(id, 0, default));
        }

        // Ordinal ids: each of these is its own history, even where a collation would call them equal.
        var suffix = PersistenceId["tck-journal-".Length..];
        string[] unicodeIds = [$"wallet-ünïcødé-✓-{suffix}", $"wallet-u\u0308nïcødé-✓-{suffix}", $"Wallet-ünïcødé-✓-{suffix}", $"钱包-🎉-{suffix}"];
        for (var i = 0; i < unicodeIds.Length; i++)
        {
            var events = Enumerable.Range(1, i + 1).Select(n => Event(n, unicodeIds[i]) with { Payload = new Happened(n, $"ünïcødé ✓ 🎉 {i}") }).ToArray();
            await WriteStoredAsync(journal, [.. events.Select(e => new AtomicWrite(e))]);
        }

        for (var i = 0; i < unicodeIds.Length; i++)
        {
            var replayed = await ReplayAllAsync(journal, unicodeIds[i]);
            Assert.Equal(i + 1, replayed.Count);
            Assert.All(replayed, repr => Assert.Equal(unicodeIds[i], repr.PersistenceId));
            Assert.All(replayed, repr => Assert.Equal(new Happened(repr.SequenceNumber, $"ünïcødé ✓ 🎉 {i}"), repr.Payload));
            Assert.Equal(i + 1, await journal.ReadHighestSequenceNumberAsync(unicodeIds[i], 0, default));
        }

        var large = new Happened(1, ConformanceText.Large(LargePayloadLength));
        await WriteStoredAsync(journal, new AtomicWrite(Event(1, PersistenceId + "-large") with { Payload = large }));
        var replayedLarge = Assert.Single(await ReplayAllAsync(journal, PersistenceId + "-large"));
        Assert.Equal(large, replayedLarge.Payload);
    }

    /// <summary>
    /// J21: fencing. Once a fenced write with token 7 is stored, a write with an older token is
    /// refused with a <see cref="FencedWriteException"/> and stores nothing (one event or an atomic
    /// write of several), even at the next free sequence number; the same or a newer token goes on;
    /// another persistence id in the same batch is not affected, and unfenced writes are not checked.
    /// </summary>
    [Fact]
    public async Task J21_A_write_with_an_older_fencing_token_than_one_stored_is_refused()
    {
        var journal = NewJournal();
        var otherId = PersistenceId + "-other";
        await WriteStoredAsync(journal, new AtomicWrite(Event(1)) { FencingToken = 3 }, new AtomicWrite(Event(1, otherId)) { FencingToken = 1 });
        await WriteStoredAsync(journal, new AtomicWrite(Event(2)) { FencingToken = 7 });

        // The old owner wakes up: its next event, alone or with others, is refused.
        var stale = await journal.WriteAsync(
            [
                new AtomicWrite(Event(3)) { FencingToken = 3 },
                new AtomicWrite(Event(2, otherId)) { FencingToken = 1 },
            ],
            default);
        var fenced = Assert.IsType<FencedWriteException>(stale[0]);
        Assert.Equal((PersistenceId, 3L, 3L), (fenced.PersistenceId, fenced.SequenceNumber, fenced.Token));
        Assert.Null(stale[1]);
        var staleAtomic = await journal.WriteAsync([new AtomicWrite([Event(3), Event(4)]) { FencingToken = 6 }], default);
        Assert.IsType<FencedWriteException>(staleAtomic[0]);
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2], expectedHighest: 2);

        // The owner of token 7 goes on, then a newer one takes over.
        await WriteStoredAsync(journal, new AtomicWrite(Event(3)) { FencingToken = 7 });
        await WriteStoredAsync(journal, new AtomicWrite([Event(4), Event(5)]) { FencingToken = 8 });
        Assert.IsType<FencedWriteException>((await journal.WriteAsync([new AtomicWrite(Event(6)) { FencingToken = 7 }], default))[0]);
        await WriteStoredAsync(journal, new AtomicWrite(Event(6)));
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2, 3, 4, 5, 6], expectedHighest: 6);
        Assert.Equal([1L, 2L], (await ReplayAllAsync(journal, otherId)).Select(e => e.SequenceNumber));
    }

    /// <summary>
    /// J22 (journals that implement <see cref="IFencingJournal"/>): raising the fence without an event
    /// refuses every later write of an older token; raising it with an older token fails and changes
    /// nothing; the same token may be raised again.
    /// </summary>
    [Fact]
    public async Task J22_The_fence_can_be_raised_before_the_new_owner_writes()
    {
        var journal = NewJournal();
        if (journal is not IFencingJournal fencing)
        {
            return;
        }

        await WriteStoredAsync(journal, new AtomicWrite(Event(1)) { FencingToken = 1 });

        Assert.True(await fencing.FenceAsync(PersistenceId, 2, default));
        Assert.IsType<FencedWriteException>((await journal.WriteAsync([new AtomicWrite(Event(2)) { FencingToken = 1 }], default))[0]);
        Assert.False(await fencing.FenceAsync(PersistenceId, 1, default));
        Assert.True(await fencing.FenceAsync(PersistenceId, 2, default));
        Assert.True(await fencing.FenceAsync(PersistenceId + "-fresh", 9, default));
        await WriteStoredAsync(journal, new AtomicWrite(Event(2)) { FencingToken = 2 });
        await AssertReplayAsync(journal, 1, long.MaxValue, long.MaxValue, [1, 2], expectedHighest: 2);
    }

    /// <summary>
    /// Event <paramref name="sequenceNumber"/> of the fixture (1 to 5), or a plain <see cref="Happened"/>
    /// beyond it, for <paramref name="persistenceId"/> (the test's id when null), with the writer id,
    /// timestamp and tags of the fixture.
    /// </summary>
    protected PersistentRepr Event(long sequenceNumber, string? persistenceId = null)
    {
        object payload = sequenceNumber switch
        {
            1 => new Happened(1, "event 1 is red"),
            2 => new Happened(2, "event 2 is green"),
            3 => new Noted("a blue note", 3),
            4 => new Happened(4, "event 4 is green"),
            5 => new Happened(5, "event 5 is red"),
            _ => new Happened(sequenceNumber, $"event {sequenceNumber}"),
        };
        IReadOnlyList<string> tags = sequenceNumber switch
        {
            2 => ["green"],
            4 => ["green", "tck-ünïcødé"],
            5 => ["last"],
            _ => [],
        };
        return new PersistentRepr(persistenceId ?? PersistenceId, sequenceNumber, payload)
        {
            WriterId = sequenceNumber <= 3 ? FirstWriterId : SecondWriterId,
            Timestamp = TimestampOf(sequenceNumber),
            Tags = tags,
        };
    }

    /// <summary>Creates a journal with <see cref="CreateJournal"/> and writes the fixture to it: events 1 to 5 of <see cref="PersistenceId"/>.</summary>
    protected async Task<IJournal> JournalWithFixtureAsync()
    {
        var journal = NewJournal();
        await WriteStoredAsync(journal, new AtomicWrite(Event(1)), new AtomicWrite(Event(2)), new AtomicWrite(Event(3)));
        await WriteStoredAsync(journal, new AtomicWrite([Event(4), Event(5)]));
        return journal;
    }

    /// <summary>The serialization the suite gives to <see cref="CreateJournal"/>: JSON, with the suite's event types registered.</summary>
    protected static EventSerialization CreateSerialization()
    {
        var registry = new EventTypeRegistry()
            .Register<Happened>()
            .Register<Noted>();
        return new EventSerialization(registry, new JsonEventSerializer());
    }

    /// <summary>Every stored event of <paramref name="persistenceId"/>, in order.</summary>
    protected static async Task<List<PersistentRepr>> ReplayAllAsync(IJournal journal, string persistenceId) =>
        await ReplayAsync(journal, persistenceId, 1, long.MaxValue, long.MaxValue);

    /// <summary>The events <see cref="IJournal.ReplayAsync"/> returns for these bounds, collected.</summary>
    protected static async Task<List<PersistentRepr>> ReplayAsync(IJournal journal, string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var replayed = new List<PersistentRepr>();
        await foreach (var repr in journal.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, default))
        {
            replayed.Add(repr);
        }

        return replayed;
    }

    /// <summary>Writes the atomic writes as one batch and asserts that each of them was stored.</summary>
    protected static async Task WriteStoredAsync(IJournal journal, params AtomicWrite[] writes)
    {
        ArgumentNullException.ThrowIfNull(journal);
        var results = await journal.WriteAsync(writes, default);
        Assert.Equal(writes.Length, results.Count);
        for (var i = 0; i < results.Count; i++)
        {
            if (results[i] is { } exception)
            {
                Assert.Fail($"Atomic write {i} of '{writes[i].PersistenceId}' at {writes[i].LowestSequenceNumber} was not stored: {exception}");
            }
        }
    }

    /// <summary>
    /// Writes the atomic writes as one batch: the results (one per write), or null when the call
    /// failed, which the contract allows where a conflict is reported by failing.
    /// </summary>
    protected static async Task<IReadOnlyList<Exception?>?> TryWriteAsync(IJournal journal, params AtomicWrite[] writes)
    {
        ArgumentNullException.ThrowIfNull(journal);
        IReadOnlyList<Exception?> results;
        try
        {
            results = await journal.WriteAsync(writes, default);
        }
        catch (Exception)
        {
            return null;
        }

        Assert.Equal(writes.Length, results.Count);
        return results;
    }

    private static DateTimeOffset TimestampOf(long sequenceNumber) => TimestampOrigin.AddSeconds(sequenceNumber);

    private IJournal NewJournal()
    {
        var journal = CreateJournal(CreateSerialization());
        _journals.Add(journal);
        return journal;
    }

    /// <summary>
    /// Replays <see cref="PersistenceId"/> with these bounds, asserts the sequence numbers and that
    /// each event equals the fixture's, then that the highest sequence number is still
    /// <paramref name="expectedHighest"/>.
    /// </summary>
    private async Task AssertReplayAsync(IJournal journal, long from, long to, long max, long[] expected, long expectedHighest = 5)
    {
        var replayed = await ReplayAsync(journal, PersistenceId, from, to, max);
        Assert.Equal(expected, replayed.Select(repr => repr.SequenceNumber));
        foreach (var repr in replayed)
        {
            var written = Event(repr.SequenceNumber);
            Assert.Equal(written.PersistenceId, repr.PersistenceId);
            Assert.Equal(written.Payload, repr.Payload);
            Assert.Equal(written.WriterId, repr.WriterId);
            Assert.Equal(written.Timestamp, repr.Timestamp);
            Assert.Equal(written.Tags, repr.Tags);
            Assert.NotEqual("", repr.Manifest);
        }

        Assert.Equal(expectedHighest, await journal.ReadHighestSequenceNumberAsync(PersistenceId, Math.Max(0, Math.Min(from, expectedHighest)), default));
    }
}
