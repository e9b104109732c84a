using System.Text;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// limit-sqlite-insert: the rows of persist-many (1,000 ids × 100 events, interleaved as group
/// commit sees them) inserted by bare SQLite, with the store's durability (WAL, synchronous=FULL),
/// prepared statements and transactions of 1,000 rows, into the store's journal table of schema
/// version 2 (entity type and slice columns and their index). The physical ceiling for the SQLite store.
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
        var clock = RunClock.StartNew();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, entity_type, slice) VALUES ($p, $s, 'w', $t, 'int32', $b, $e, $l)";
        var p = insert.Parameters.Add("$p", SqliteType.Text);
        var s = insert.Parameters.Add("$s", SqliteType.Integer);
        var t = insert.Parameters.Add("$t", SqliteType.Integer);
        var b = insert.Parameters.Add("$b", SqliteType.Blob);
        var e = insert.Parameters.Add("$e", SqliteType.Text);
        var l = insert.Parameters.Add("$l", SqliteType.Integer);
        var row = 0L;
        SqliteTransaction? transaction = null;
        for (var sequenceNumber = 1; sequenceNumber <= 100; sequenceNumber++)
        {
            foreach (var id in ids)
            {
                if (row % Batch == 0)
                {
                    transaction?.Commit();
                    transaction?.Dispose();
                    transaction = connection.BeginTransaction();
                    insert.Transaction = transaction;
                    insert.Prepare();
                }

                p.Value = id;
                s.Value = sequenceNumber;
                t.Value = row++;
                b.Value = payload;
                e.Value = Slices.EntityTypeOf(id);
                l.Value = Slices.Of(id);
                insert.ExecuteNonQuery();
            }
        }

        transaction?.Commit();
        transaction?.Dispose();
        clock.Stop();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM journal";
        var rows = (long)count.ExecuteScalar()!;
        Check.That(rows == N, $"{rows} rows stored, expected {N}");
        return Task.FromResult(new RunResult(clock.Elapsed));
    }
}
