using System.Text;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using SQLitePCL;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// limit-sqlite-insert: the rows of persist-many (1,000 ids × 100 events, interleaved as group
/// commit sees them) inserted by bare SQLite, with the store's durability (WAL, synchronous=FULL),
/// prepared statements and transactions of 1,000 rows, into the store's journal table of schema
/// version 2 (entity type and slice columns and their index), each row bound and stepped directly
/// as the store's writer does. Each row holds what the store's does: a writer id of 32 characters
/// per persistence id (an actor's), the time in UTC ticks, the manifest. The physical ceiling for
/// the SQLite store.
/// </summary>
internal sealed class LimitSqliteInsert(BenchOptions options) : IWorkload
{
    private const int Batch = 1000;
    private readonly int _ids = Math.Max(1, 1000 / options.ScaleDown);

    public string Name => "limit-sqlite-insert";

    public IReadOnlyList<string> Stores { get; } = ["sqlite"];

    public long N => _ids * 100L;

    public Task<RunResult> RunAsync(RunContext context)
    {
        using var store = BenchStore.Fresh("sqlite");
        var payload = Encoding.UTF8.GetBytes("12345");
        using var connection = new SqliteConnection($"Data Source={store.SqlitePath};Pooling=False");
        connection.Open();
        using (var setup = connection.CreateCommand())
        {
            setup.CommandText = """
                PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
                CREATE TABLE journal (ordering INTEGER PRIMARY KEY AUTOINCREMENT, persistence_id TEXT NOT NULL, sequence_number INTEGER NOT NULL,
                  writer_id TEXT NOT NULL, timestamp INTEGER NOT NULL, manifest TEXT NOT NULL, payload BLOB NOT NULL, tags TEXT NULL,
                  entity_type TEXT NULL, slice INTEGER NULL,
                  UNIQUE (persistence_id, sequence_number));
                CREATE INDEX journal_slices ON journal (entity_type, ordering, slice);
                """;
            setup.ExecuteNonQuery();
        }

        var ids = Enumerable.Range(0, _ids).Select(i => $"bench-{i}").ToArray();
        var writers = ids.Select(_ => Guid.NewGuid().ToString("N")).ToArray();
        var clock = RunClock.StartNew();

        // Bound by position and stepped directly, as the store's writer does: the floor, without
        // ADO.NET's data reader and by-name binding per row.
        var db = connection.Handle!;
        SqliteException.ThrowExceptionForRC(
            raw.sqlite3_prepare_v2(db, "INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, entity_type, slice) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", out var insert),
            db);
        using (insert)
        {
            var row = 0L;
            SqliteTransaction? transaction = null;
            for (var sequenceNumber = 1; sequenceNumber <= 100; sequenceNumber++)
            {
                for (var i = 0; i < ids.Length; i++)
                {
                    var id = ids[i];
                    if (row % Batch == 0)
                    {
                        transaction?.Commit();
                        transaction?.Dispose();
                        transaction = connection.BeginTransaction();
                    }

                    raw.sqlite3_bind_text(insert, 1, id);
                    raw.sqlite3_bind_int64(insert, 2, sequenceNumber);
                    raw.sqlite3_bind_text(insert, 3, writers[i]);
                    raw.sqlite3_bind_int64(insert, 4, DateTime.UtcNow.Ticks);
                    raw.sqlite3_bind_text(insert, 5, "int32");
                    raw.sqlite3_bind_blob(insert, 6, payload);
                    raw.sqlite3_bind_text(insert, 7, Slices.EntityTypeOf(id));
                    raw.sqlite3_bind_int(insert, 8, Slices.Of(id));
                    row++;
                    var result = raw.sqlite3_step(insert);
                    raw.sqlite3_reset(insert);
                    if (result != raw.SQLITE_DONE)
                    {
                        throw new BenchCheckException($"check failed: insert of row {row}: SQLite result {result}");
                    }
                }
            }

            transaction?.Commit();
            transaction?.Dispose();
        }

        clock.Stop();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM journal";
        var rows = (long)count.ExecuteScalar()!;
        Check.That(rows == N, $"{rows} rows stored, expected {N}");
        return Task.FromResult(new RunResult(clock.Elapsed));
    }
}
