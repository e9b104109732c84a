using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;
using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The snapshot-store half of the store conformance checklist (items S1 to S13, listed in
/// docs/custom-store.md), one xunit test per item. Every <see cref="ISnapshotStore"/> passes it:
/// subclass it in a test project and implement <see cref="CreateSnapshotStore"/>. No item is
/// optional, so the suite has no capability flags.
/// </summary>
/// <remarks>
/// <para><b>Store per test.</b> xunit creates a new instance of the class for each test, and each
/// test calls <see cref="CreateSnapshotStore"/> once: return a fresh, empty store every time. The
/// suite also uses persistence ids unique to the test.</para>
/// <para><b>Lifetime.</b> <see cref="InitializeAsync"/> runs before each test and
/// <see cref="DisposeAsync"/> after it; override them to start or clean up what the store needs.
/// A store that implements <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/> is disposed
/// after its test.</para>
/// <para><b>Fixture.</b> Snapshots s-1 to s-5 of one persistence id at sequence numbers 11 to 15,
/// saved in that order, with timestamps one second apart (UTC, microsecond precision), so that
/// newer by sequence number is also newer by time.</para>
/// </remarks>
public abstract class SnapshotStoreConformance : IAsyncLifetime
{
    /// <summary>The timestamp of s-0: s-<c>n</c> is taken <c>n</c> seconds later. It has microseconds, which every store must keep.</summary>
    protected static readonly DateTimeOffset TimestampOrigin = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(6_543_210);

    private readonly List<ISnapshotStore> _stores = [];

    /// <summary>Creates the suite with a persistence id unique to this test.</summary>
    protected SnapshotStoreConformance()
    {
        PersistenceId = "tck-snapshots-" + Guid.NewGuid().ToString("N")[..12];
    }

    /// <summary>The state the suite snapshots, stored under the manifest <c>tck.state.v1</c>.</summary>
    /// <param name="Name">Which snapshot, e.g. <c>s-3</c>.</param>
    /// <param name="Body">The rest of the state; large in S12.</param>
    [EventType("tck.state.v1")]
    public sealed record State(string Name, string Body);

    /// <summary>The persistence id of the fixture, unique to this test.</summary>
    protected string PersistenceId { get; }

    /// <summary>
    /// Creates a fresh, empty snapshot store that serializes with <paramref name="serialization"/>, in
    /// which the suite's state type is registered. Called once per test.
    /// </summary>
    protected abstract ISnapshotStore CreateSnapshotStore(EventSerialization serialization);

    /// <summary>Runs before each test; override to prepare what <see cref="CreateSnapshotStore"/> needs.</summary>
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Runs after each test: disposes the stores the test created. Override to clean up more, and call the base.</summary>
    public virtual async Task DisposeAsync()
    {
        await ConformanceText.DisposeAllAsync(_stores);
        _stores.Clear();
    }

    /// <summary>S1: an unknown persistence id has no snapshot, also when it is a prefix of a stored id or extends one.</summary>
    [Fact]
    public async Task S01_Loads_none_for_an_unknown_persistence_id()
    {
        var store = await StoreWithFixtureAsync();
        foreach (var unknown in new[] { PersistenceId + "-unknown", PersistenceId[..^1], PersistenceId + "%" })
        {
            Assert.Null(await store.LoadAsync(unknown, SnapshotSelectionCriteria.Latest, default));
        }
    }

    /// <summary>S2: no snapshot when the timestamp bounds match none (all older than the maximum, or all newer than the minimum).</summary>
    [Fact]
    public async Task S02_Loads_none_when_the_timestamp_bound_matches_nothing()
    {
        var store = await StoreWithFixtureAsync();
        Assert.Null(await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(long.MaxValue, TimestampOf(1).AddTicks(-1)), default));
        Assert.Null(await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(long.MaxValue, DateTimeOffset.MaxValue, MinTimestamp: TimestampOf(5).AddTicks(1)), default));
    }

    /// <summary>S3: no snapshot when the sequence bounds match none (at or below 10, or from 16 on), nor for <see cref="SnapshotSelectionCriteria.None"/>.</summary>
    [Fact]
    public async Task S03_Loads_none_when_the_sequence_bound_matches_nothing()
    {
        var store = await StoreWithFixtureAsync();
        Assert.Null(await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(10), default));
        Assert.Null(await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(long.MaxValue, DateTimeOffset.MaxValue, MinSequenceNumber: 16), default));
        Assert.Null(await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.None, default));
    }

    /// <summary>S4: the newest snapshot, s-5 at 15, loads with its metadata exactly as saved.</summary>
    [Fact]
    public async Task S04_Loads_the_newest_with_its_metadata()
    {
        var store = await StoreWithFixtureAsync();
        var loaded = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default);

        AssertSnapshot(5, loaded);
        Assert.Equal(PersistenceId, loaded!.Metadata.PersistenceId);
        Assert.Equal(15, loaded.Metadata.SequenceNumber);
        Assert.Equal(TimestampOf(5).UtcTicks, loaded.Metadata.Timestamp.UtcTicks);
        Assert.Equal(TimeSpan.Zero, loaded.Metadata.Timestamp.Offset);
    }

    /// <summary>S5: with an upper sequence bound of 13, the newest snapshot at or below it, s-3, loads.</summary>
    [Fact]
    public async Task S05_Loads_the_newest_at_or_below_an_upper_sequence_bound()
    {
        var store = await StoreWithFixtureAsync();
        AssertSnapshot(3, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
    }

    /// <summary>S6: the newest snapshot matching both a sequence and a timestamp bound loads, whichever bound is the tighter.</summary>
    [Fact]
    public async Task S06_Loads_the_newest_matching_sequence_and_timestamp_bounds()
    {
        var store = await StoreWithFixtureAsync();
        AssertSnapshot(3, await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(14, TimestampOf(3)), default));
        AssertSnapshot(2, await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(12, TimestampOf(4)), default));
        AssertSnapshot(4, await store.LoadAsync(PersistenceId, new SnapshotSelectionCriteria(14, TimestampOf(5), MinSequenceNumber: 12, MinTimestamp: TimestampOf(2)), default));
    }

    /// <summary>S7: deleting s-3 by its metadata removes it alone: the bound 13 then loads s-2, and s-4 and s-5 remain.</summary>
    [Fact]
    public async Task S07_Deletes_one_snapshot_by_metadata()
    {
        var store = await StoreWithFixtureAsync();
        var s3 = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default);
        AssertSnapshot(3, s3);

        await store.DeleteAsync(s3!.Metadata, default);

        AssertSnapshot(2, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
        AssertSnapshot(4, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(14), default));
        AssertSnapshot(5, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default));
    }

    /// <summary>
    /// S8: a delete by metadata whose timestamp is older than the stored snapshot's deletes nothing
    /// (the snapshot was replaced after the delete was decided); a default timestamp matches any.
    /// </summary>
    [Fact]
    public async Task S08_A_delete_with_an_older_timestamp_deletes_nothing()
    {
        var store = await StoreWithFixtureAsync();

        await store.DeleteAsync(new SnapshotMetadata(PersistenceId, 13, TimestampOf(3).AddTicks(-1)), default);
        AssertSnapshot(3, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));

        await store.DeleteAsync(new SnapshotMetadata(PersistenceId, 13, default), default);
        AssertSnapshot(2, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
    }

    /// <summary>S9: deleting by criteria (at or below 13) leaves nothing at or below 13, and s-4 and s-5 still load.</summary>
    [Fact]
    public async Task S09_Deletes_by_criteria()
    {
        var store = await StoreWithFixtureAsync();
        await store.DeleteAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default);

        Assert.Null(await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
        AssertSnapshot(4, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(14), default));
        AssertSnapshot(5, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default));
    }

    /// <summary>S10: deleting by criteria with a timestamp bound one tick before s-4 deletes s-1 to s-3 and leaves s-4.</summary>
    [Fact]
    public async Task S10_A_delete_with_a_timestamp_bound_before_s4_leaves_s4()
    {
        var store = await StoreWithFixtureAsync();
        await store.DeleteAsync(PersistenceId, new SnapshotSelectionCriteria(14, TimestampOf(4).AddTicks(-1)), default);

        AssertSnapshot(4, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(14), default));
        Assert.Null(await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
        AssertSnapshot(5, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default));
    }

    /// <summary>
    /// S11: saving again at the same sequence number overwrites state and timestamp; there is one
    /// snapshot at that number afterwards, not two.
    /// </summary>
    [Fact]
    public async Task S11_Saving_again_at_the_same_sequence_number_overwrites()
    {
        var store = await StoreWithFixtureAsync();
        var again = new SnapshotMetadata(PersistenceId, 13, TimestampOf(6));
        await store.SaveAsync(again, new State("s-3 again", "replaced"), default);

        var loaded = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default);
        Assert.NotNull(loaded);
        Assert.Equal(new State("s-3 again", "replaced"), loaded.Snapshot);
        Assert.Equal(again, loaded.Metadata);
        AssertSnapshot(5, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default));

        await store.DeleteAsync(new SnapshotMetadata(PersistenceId, 13, default), default);
        AssertSnapshot(2, await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(13), default));
    }

    /// <summary>S12: a snapshot larger than 1 MiB round-trips.</summary>
    [Fact]
    public async Task S12_A_large_snapshot_round_trips()
    {
        var store = NewStore();
        var large = new State("large", ConformanceText.Large(1024 * 1024 + 17));
        var metadata = new SnapshotMetadata(PersistenceId, 1, TimestampOf(1));
        await store.SaveAsync(metadata, large, default);

        var loaded = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default);
        Assert.NotNull(loaded);
        Assert.Equal(metadata, loaded.Metadata);
        Assert.Equal(large, loaded.Snapshot);
    }

    /// <summary>
    /// S13: rapid saves raise no error and the newest is the one loaded, both when they repeat one
    /// sequence number (no events persisted in between) and when each is at a new one (events
    /// persisted in between, the saves not awaited one by one).
    /// </summary>
    [Fact]
    public async Task S13_Rapid_saves_leave_the_newest_loadable()
    {
        const int saves = 20;
        var store = NewStore();

        for (var i = 1; i <= saves; i++)
        {
            await store.SaveAsync(new SnapshotMetadata(PersistenceId, 100, TimestampOf(i)), new State($"same-{i}", ""), default);
        }

        var same = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default);
        Assert.NotNull(same);
        Assert.Equal(new State($"same-{saves}", ""), same.Snapshot);
        Assert.Equal(new SnapshotMetadata(PersistenceId, 100, TimestampOf(saves)), same.Metadata);

        await Task.WhenAll(Enumerable.Range(1, saves).Select(i =>
            store.SaveAsync(new SnapshotMetadata(PersistenceId, 100 + i, TimestampOf(saves + i)), new State($"next-{i}", ""), default).AsTask()));

        var next = await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.Latest, default);
        Assert.NotNull(next);
        Assert.Equal(new State($"next-{saves}", ""), next.Snapshot);
        Assert.Equal(100 + saves, next.Metadata.SequenceNumber);
        AssertSnapshotState($"next-{saves / 2}", await store.LoadAsync(PersistenceId, SnapshotSelectionCriteria.UpTo(100 + (saves / 2)), default));
    }

    /// <summary>The metadata of fixture snapshot s-<paramref name="index"/> (1 to 5): sequence number 10 + index.</summary>
    protected SnapshotMetadata MetadataOf(int index) => new(PersistenceId, 10 + index, TimestampOf(index));

    /// <summary>The state of fixture snapshot s-<paramref name="index"/>.</summary>
    protected static State StateOf(int index) => new($"s-{index}", $"state after event {10 + index}, ünïcødé ✓");

    /// <summary>Creates a store with <see cref="CreateSnapshotStore"/> and saves the fixture to it: s-1 to s-5 at 11 to 15.</summary>
    protected async Task<ISnapshotStore> StoreWithFixtureAsync()
    {
        var store = NewStore();
        for (var i = 1; i <= 5; i++)
        {
            await store.SaveAsync(MetadataOf(i), StateOf(i), default);
        }

        return store;
    }

    /// <summary>The serialization the suite gives to <see cref="CreateSnapshotStore"/>: JSON, with <see cref="State"/> registered.</summary>
    protected static EventSerialization CreateSerialization() =>
        new(new EventTypeRegistry().Register<State>(), new JsonEventSerializer());

    private static DateTimeOffset TimestampOf(int index) => TimestampOrigin.AddSeconds(index);

    private static void AssertSnapshotState(string name, SelectedSnapshot? loaded)
    {
        Assert.NotNull(loaded);
        Assert.Equal(name, Assert.IsType<State>(loaded.Snapshot).Name);
    }

    private ISnapshotStore NewStore()
    {
        var store = CreateSnapshotStore(CreateSerialization());
        _stores.Add(store);
        return store;
    }

    /// <summary>Asserts that <paramref name="loaded"/> is fixture snapshot s-<paramref name="index"/>, state and metadata.</summary>
    private void AssertSnapshot(int index, SelectedSnapshot? loaded)
    {
        Assert.NotNull(loaded);
        Assert.Equal(StateOf(index), loaded.Snapshot);
        Assert.Equal(MetadataOf(index), loaded.Metadata);
    }
}
