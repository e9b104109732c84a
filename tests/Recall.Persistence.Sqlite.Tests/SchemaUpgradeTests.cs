using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>A file written by the first release (schema version 1) is upgraded to the current version on open.</summary>
public sealed class SchemaUpgradeTests : IDisposable
{
    // The schema of version 1 as that release created it, typed out here rather than taken from
    // the store, so that the test keeps a real old file even when the store's code changes.
    private const string Version1Ddl = """
        CREATE TABLE recall_schema (version INTEGER NOT NULL);
        CREATE TABLE journal (
            ordering        INTEGER PRIMARY KEY AUTOINCREMENT,
            persistence_id  TEXT    NOT NULL,
            sequence_number INTEGER NOT NULL,
            writer_id       TEXT    NOT NULL,
            timestamp       INTEGER NOT NULL,
            manifest        TEXT    NOT NULL,
            payload         BLOB    NOT NULL,
            tags            TEXT    NULL,
            UNIQUE (persistence_id, sequence_number)
        );
        CREATE TABLE journal_tags (
            tag      TEXT    NOT NULL,
            ordering INTEGER NOT NULL,
            PRIMARY KEY (tag, ordering)
        ) WITHOUT ROWID;
        CREATE TABLE journal_highest (
            persistence_id  TEXT    NOT NULL PRIMARY KEY,
            sequence_number INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TRIGGER journal_no_rewrite BEFORE INSERT ON journal
        WHEN NEW.sequence_number <= (SELECT sequence_number FROM journal_highest WHERE persistence_id = NEW.persistence_id)
        BEGIN
            SELECT RAISE(ABORT, 'sequence number already used by a deleted event');
        END;
        CREATE TABLE snapshots (
            persistence_id  TEXT    NOT NULL,
            sequence_number INTEGER NOT NULL,
            timestamp       INTEGER NOT NULL,
            manifest        TEXT    NOT NULL,
            payload         BLOB    NOT NULL,
            PRIMARY KEY (persistence_id, sequence_number)
        ) WITHOUT ROWID;
        INSERT INTO recall_schema (version) VALUES (1);
        """;

    // (persistence id, sequence number, tag or null) in the order they were written.
    private static readonly (string Id, long SequenceNumber, string? Tag)[] OldEvents =
    [
        ("account|1", 1, null),
        ("account|2", 1, null),
        ("legacy-7", 1, null),
        ("account|1", 2, "vip"),
        ("account|2", 2, null),
        ("account|1", 3, null),
    ];

    private static readonly DateTimeOffset Written = new(2023, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly TempDatabase _database = new();
    private readonly EventSerialization _serialization = new(new EventTypeRegistry().Register<Deposited>(), new JsonEventSerializer());

    [EventType("upgrade.deposited.v1")]
    public sealed record Deposited(string Text);

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task A_version_1_file_is_upgraded_on_open_and_its_events_are_readable_by_slices_with_nothing_lost()
    {
        CreateVersion1File(_database.Path);

        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, _serialization);
        var read = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PageSize = 2 });

        // Every old event, in its old place, found by slices with the entity type of its id.
        var accounts = await read.EventsBySlices("account", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync();
        Assert.Equal(
            [(1L, "account|1", 1L), (2L, "account|2", 1L), (4L, "account|1", 2L), (5L, "account|2", 2L), (6L, "account|1", 3L)],
            accounts.Select(e => (e.Offset.Ordering, e.PersistenceId, e.SequenceNumber)));
        Assert.All(accounts, e => Assert.Equal(new Deposited($"{e.PersistenceId} {e.SequenceNumber}"), e.Event));
        Assert.All(accounts, e => Assert.Equal(Written.AddSeconds(e.SequenceNumber), e.Timestamp));

        var slice = Slices.Of("account|1");
        var oneSlice = await read.EventsBySlices("account", slice, slice, Offset.Start, live: false).ToListAsync();
        Assert.Equal(accounts.Where(e => Slices.Of(e.PersistenceId) == slice).Select(e => e.Offset), oneSlice.Select(e => e.Offset));
        Assert.Contains(oneSlice, e => e.PersistenceId == "account|1");

        var untyped = await read.EventsBySlices("", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync();
        Assert.Equal([("legacy-7", 1L)], untyped.Select(e => (e.PersistenceId, e.SequenceNumber)));

        // Tags, replay, ids (with the fully deleted and the snapshot-only ones) and highest numbers are as before.
        var vip = Assert.Single(await read.EventsByTag("vip", Offset.Start, live: false).ToListAsync());
        Assert.Equal(("account|1", 2L), (vip.PersistenceId, vip.SequenceNumber));
        Assert.Equal(["vip"], vip.Tags);
        Assert.Equal([1L, 2L, 3L], (await read.EventsByPersistenceId("account|1", 1, long.MaxValue, live: false).ToListAsync()).Select(e => e.SequenceNumber));
        Assert.Equal(
            ["account|1", "account|2", "account|gone", "account|snapshot-only", "legacy-7"],
            (await read.PersistenceIds(live: false).ToListAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(4, await journal.ReadHighestSequenceNumberAsync("account|gone", 0, default));
        Assert.IsType<SequenceConflictException>(Assert.Single(await journal.WriteAsync([Write("account|gone", 3)], default)));

        // The rows themselves: none lost, each with its entity type and slice, and the version row.
        Assert.Equal(6L, Scalar("SELECT count(*) FROM journal"));
        Assert.Equal(0L, Scalar("SELECT count(*) FROM journal WHERE entity_type IS NULL OR slice IS NULL"));
        foreach (var (id, _, _) in OldEvents)
        {
            Assert.Equal(Slices.EntityTypeOf(id), Scalar($"SELECT DISTINCT entity_type FROM journal WHERE persistence_id = '{id}'"));
            Assert.Equal((long)Slices.Of(id), Scalar($"SELECT DISTINCT slice FROM journal WHERE persistence_id = '{id}'"));
        }

        Assert.Equal(4L, Scalar("SELECT max(version) FROM recall_schema"));
        Assert.Equal(1L, Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal_fencing'"));
        Assert.Equal(1L, Scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'journal_slices'"));

        // New events go on after the old ones.
        Assert.Null(Assert.Single(await journal.WriteAsync([Write("account|1", 4)], default)));
        var after = await read.EventsBySlices("account", 0, Slices.Count - 1, accounts[^1].Offset, live: false).ToListAsync();
        Assert.Equal([(7L, "account|1", 4L)], after.Select(e => (e.Offset.Ordering, e.PersistenceId, e.SequenceNumber)));
    }

    [Fact]
    public async Task A_new_file_and_an_upgraded_file_have_the_same_schema()
    {
        CreateVersion1File(_database.Path);
        await using (new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, _serialization))
        {
        }

        var fresh = Path.Combine(_database.Folder, "fresh.db");
        await using (new SqliteJournal(new SqliteStoreOptions { Path = fresh }, _serialization))
        {
        }

        Assert.Equal(Describe(fresh), Describe(_database.Path));
        Assert.Contains("journal.entity_type TEXT", Describe(fresh));
        Assert.Contains("journal.slice INTEGER", Describe(fresh));
        Assert.Contains("index journal_slices (entity_type, ordering, slice)", Describe(fresh));
    }

    [Fact]
    public async Task Several_stores_opening_a_version_1_file_at_once_upgrade_it_once()
    {
        CreateVersion1File(_database.Path);
        using var start = new Barrier(4);
        var journals = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, _serialization);
        })));
        try
        {
            Assert.Equal([1L, 2L, 3L, 4L], Column("SELECT version FROM recall_schema ORDER BY version"));
            var read = new ReadJournal(journals[3].Reads);
            Assert.Equal(5, (await read.EventsBySlices("account", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync()).Count);
        }
        finally
        {
            foreach (var journal in journals)
            {
                await journal.DisposeAsync();
            }
        }
    }

    [Fact]
    public void A_read_only_store_refuses_a_version_1_file_and_leaves_it_untouched()
    {
        CreateVersion1File(_database.Path);
        var before = File.ReadAllBytes(_database.Path);

        var error = Assert.Throws<SqliteStoreException>(() => new SqliteJournal(new SqliteStoreOptions { Path = _database.Path, ReadOnly = true }, _serialization));

        Assert.Contains("schema version 1", error.Message, StringComparison.Ordinal);
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        SqliteConnection.ClearAllPools();
        Assert.Equal(before, File.ReadAllBytes(_database.Path));
    }

    [Fact]
    public async Task After_the_upgrade_a_row_without_entity_type_and_slice_is_refused()
    {
        // What an older Recall that still has the file open would insert: it must fail, not
        // store an event that events by slices would never find.
        CreateVersion1File(_database.Path);
        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, _serialization);

        using var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags)
            VALUES ('account|1', 9, 'old-writer', 0, 'upgrade.deposited.v1', X'7B7D', NULL)
            """;
        var error = Assert.Throws<SqliteException>(() => command.ExecuteNonQuery());
        Assert.Contains("entity_type and slice", error.Message, StringComparison.Ordinal);
        Assert.Equal(6L, Scalar("SELECT count(*) FROM journal"));
    }

    private void CreateVersion1File(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "PRAGMA journal_mode = WAL;";
        command.ExecuteNonQuery();
        command.CommandText = Version1Ddl;
        command.ExecuteNonQuery();
        foreach (var (id, sequenceNumber, tag) in OldEvents)
        {
            command.CommandText = """
                INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags)
                VALUES ($pid, $seq, 'old-writer', $ts, $manifest, $payload, $tags);
                INSERT INTO journal_tags (tag, ordering) SELECT $tag, last_insert_rowid() WHERE $tag IS NOT NULL;
                """;
            var payload = _serialization.Serialize(new Deposited($"{id} {sequenceNumber}"));
            command.Parameters.Clear();
            command.Parameters.AddWithValue("$pid", id);
            command.Parameters.AddWithValue("$seq", sequenceNumber);
            command.Parameters.AddWithValue("$ts", Written.AddSeconds(sequenceNumber).UtcTicks);
            command.Parameters.AddWithValue("$manifest", payload.Manifest);
            command.Parameters.AddWithValue("$payload", payload.Data);
            command.Parameters.AddWithValue("$tags", tag is null ? DBNull.Value : $"[\"{tag}\"]");
            command.Parameters.AddWithValue("$tag", (object?)tag ?? DBNull.Value);
            command.ExecuteNonQuery();
        }

        command.Parameters.Clear();
        command.CommandText = """
            INSERT INTO journal_highest (persistence_id, sequence_number) VALUES ('account|gone', 4);
            INSERT INTO snapshots (persistence_id, sequence_number, timestamp, manifest, payload) VALUES ('account|snapshot-only', 3, 0, 'upgrade.deposited.v1', X'7B7D');
            """;
        command.ExecuteNonQuery();
        transaction.Commit();
    }

    private AtomicWrite Write(string id, long sequenceNumber) =>
        new(new PersistentRepr(id, sequenceNumber, new Deposited($"{id} {sequenceNumber}")) { WriterId = "new-writer", Timestamp = Written.AddSeconds(sequenceNumber) });

    /// <summary>Tables with their columns, indexes with theirs, and triggers, one line each, sorted.</summary>
    private static string Describe(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var lines = new List<string>();
        using var objects = connection.CreateCommand();
        objects.CommandText = "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name";
        var found = new List<(string Type, string Name, string Table)>();
        using (var reader = objects.ExecuteReader())
        {
            while (reader.Read())
            {
                found.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        foreach (var (type, name, table) in found)
        {
            using var info = connection.CreateCommand();
            info.CommandText = type switch
            {
                "table" => $"SELECT name || ' ' || type || (CASE WHEN \"notnull\" THEN ' NOT NULL' ELSE '' END) || (CASE WHEN pk THEN ' PK' ELSE '' END) FROM pragma_table_info('{name}')",
                "index" => $"SELECT name FROM pragma_index_info('{name}') ORDER BY seqno",
                _ => "SELECT NULL WHERE 0",
            };
            var parts = new List<string>();
            using (var reader = info.ExecuteReader())
            {
                while (reader.Read())
                {
                    parts.Add(reader.GetString(0));
                }
            }

            lines.AddRange(type switch
            {
                "table" => parts.Select(p => $"{name}.{p}"),
                "index" => [$"index {name} ({string.Join(", ", parts)}) on {table}"],
                _ => [$"{type} {name} on {table}"],
            });
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join('\n', lines);
    }

    private object? Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private List<long> Column(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<long>();
        while (reader.Read())
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }

}
