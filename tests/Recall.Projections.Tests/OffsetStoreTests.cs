using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections.Sqlite;

namespace Recall.Projections.Tests;

/// <summary>The offset stores of at-least-once projections, and the read-only inspector.</summary>
public sealed class OffsetStoreTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task The_sqlite_offset_store_keeps_offsets_and_states_across_instances()
    {
        var id = new ProjectionId("p", "k");
        var store = new SqliteProjectionOffsetStore(_folder.File());
        Assert.Null(await store.ReadAsync(id, default));

        await store.SaveStateAsync(id, ProjectionState.Running, null, default);
        Assert.Equal(Offset.Start, (await store.ReadAsync(id, default))!.Offset);
        await store.SaveOffsetAsync(id, new Offset(7, 42), Harness.T0, default);
        await store.SaveStateAsync(id, ProjectionState.Failed, "boom", default);
        await store.SaveStateAsync(id, ProjectionState.Paused, null, default);
        await store.SaveOffsetAsync(id, new Offset(7, 43), null, default);

        var row = await new SqliteProjectionOffsetStore(_folder.File()).ReadAsync(id, default);
        Assert.Equal(new Offset(7, 43), row!.Offset);
        Assert.Null(row.LastEventTimestamp);
        Assert.Equal(ProjectionState.Paused, row.State); // an offset save keeps a pause
        Assert.Equal("boom", row.LastError);            // and the last error stays
        Assert.Null(await store.ReadAsync(new ProjectionId("p", "other"), default));
    }

    [Fact]
    public async Task The_in_memory_offset_store_follows_the_same_rules()
    {
        var id = new ProjectionId("p", "k");
        var store = new InMemoryProjectionOffsetStore();
        await store.SaveStateAsync(id, ProjectionState.Failed, "boom", default);
        await store.SaveStateAsync(id, ProjectionState.Paused, null, default);
        await store.SaveOffsetAsync(id, Offset.Sequence(3), Harness.T0, default);
        var row = await store.ReadAsync(id, default);
        Assert.Equal((Offset.Sequence(3), ProjectionState.Paused, "boom", (DateTimeOffset?)Harness.T0), (row!.Offset, row.State, row.LastError, row.LastEventTimestamp));
    }

    [Fact]
    public async Task Offsets_in_another_applications_database_leave_its_journal_mode_alone_and_a_new_file_gets_wal()
    {
        // The read model's own database, in SQLite's default rollback-journal mode.
        var theirs = _folder.File("theirs.db");
        Sql.Scalar(theirs, "CREATE TABLE orders (id INTEGER PRIMARY KEY); SELECT 0");
        var id = new ProjectionId("p", "k");

        await new SqliteProjectionOffsetStore(theirs).SaveOffsetAsync(id, Offset.Sequence(3), Harness.T0, default);
        SqliteConnection.ClearAllPools();

        Assert.Equal(Offset.Sequence(3), (await new SqliteProjectionOffsetStore(theirs).ReadAsync(id, default))!.Offset);
        Assert.Equal("delete", Sql.Text(theirs, "PRAGMA journal_mode"));

        var fresh = _folder.File("fresh.db");
        await new SqliteProjectionOffsetStore(fresh).SaveOffsetAsync(id, Offset.Sequence(3), Harness.T0, default);
        Assert.Equal("wal", Sql.Text(fresh, "PRAGMA journal_mode"));
    }

    [Fact]
    public async Task The_inspector_reads_without_creating_anything()
    {
        var missing = _folder.File("missing.db");
        Assert.Throws<Recall.Persistence.Sqlite.SqliteStoreException>(() => Recall.Persistence.Sqlite.SqliteReadOnlyConnection.Open(missing));
        Assert.False(File.Exists(missing));

        var other = _folder.File("other.db");
        Sql.Scalar(other, "CREATE TABLE something (x INTEGER); SELECT 0");
        Assert.Empty(Inspect(other));
        Assert.Equal(0, Sql.Scalar(other, "SELECT count(*) FROM sqlite_master WHERE name = 'recall_projection_offsets'"));

        var store = new SqliteProjectionOffsetStore(other);
        await store.SaveOffsetAsync(new ProjectionId("b", "k"), Offset.Sequence(5), Harness.T0, default);
        await store.SaveStateAsync(new ProjectionId("a", "k"), ProjectionState.Failed, "boom", default);
        var rows = Inspect(other);
        Assert.Equal(["a", "b"], rows.Select(r => r.Id.Name));
        Assert.Equal((ProjectionState.Failed, "boom", Offset.Start), (rows[0].State, rows[0].LastError, rows[0].Offset));
        Assert.Equal((ProjectionState.Running, (string?)null, Offset.Sequence(5)), (rows[1].State, rows[1].LastError, rows[1].Offset));
    }

    private static IReadOnlyList<StoredProjection> Inspect(string path)
    {
        using var connection = Recall.Persistence.Sqlite.SqliteReadOnlyConnection.Open(path);
        return SqliteProjectionsInspector.Read(connection);
    }
}
