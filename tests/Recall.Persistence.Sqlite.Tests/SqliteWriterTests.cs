using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>The journal's writer connection: what its direct inserts store, and that closing the journal closes the file.</summary>
public sealed class SqliteWriterTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task An_event_whose_serializer_writes_no_bytes_is_stored_and_replayed()
    {
        var registry = new EventTypeRegistry();
        registry.Register<Marker>("marker");
        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization(registry, new EmptyMarkerSerializer()));

        var results = await journal.WriteAsync([new AtomicWrite([new PersistentRepr("flags", 1, new Marker()), new PersistentRepr("flags", 2, "after")])], default);
        var replayed = await journal.ReplayAsync("flags", 1, long.MaxValue, long.MaxValue, default).ToListAsync();

        Assert.Null(results[0]);
        Assert.Equal([1L, 2L], replayed.Select(e => e.SequenceNumber));
        Assert.IsType<Marker>(replayed[0].Payload);
        Assert.Equal("after", replayed[1].Payload);
    }

    [Fact]
    public async Task Closing_the_journal_closes_the_file_so_its_write_ahead_log_is_checkpointed_and_removed()
    {
        var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization());
        var results = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("ledger", 1, "a")), new AtomicWrite(new PersistentRepr("tagged", 1, "b") { Tags = ["t"] })], default);
        Assert.Equal([null, null], results);
        Assert.True(File.Exists(_database.Path + "-wal"), "the write went to the write-ahead log");

        await journal.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // The last connection to close checkpoints the log and deletes it: a statement left
        // open on the writer connection would keep the connection (and the log) alive.
        Assert.False(File.Exists(_database.Path + "-wal"), "the write-ahead log is still there: a connection to the file is still open");
    }

    private sealed record Marker;

    /// <summary>Writes a <see cref="Marker"/> as no bytes at all, anything else as JSON.</summary>
    private sealed class EmptyMarkerSerializer : ISerializer
    {
        private readonly JsonEventSerializer _json = new();

        public byte[] Serialize(object value, Type type) => value is Marker ? [] : _json.Serialize(value, type);

        public object Deserialize(ReadOnlySpan<byte> data, Type type) => type == typeof(Marker) ? new Marker() : _json.Deserialize(data, type);
    }
}
