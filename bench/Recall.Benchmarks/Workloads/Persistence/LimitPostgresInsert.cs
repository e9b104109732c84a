using System.Text;
using Npgsql;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Query;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>
/// limit-postgres-insert: the rows of persist-many (1,000 ids × 100 events, interleaved as group
/// commit sees them) inserted by bare Npgsql into the store's own journal table of the current
/// schema (created by <see cref="PostgreSqlSchema.CreateAsync"/>: primary key, ordering, transaction
/// and slice indexes, entity type, slice and the tags column), 1,000 rows per statement through
/// unnest of arrays, each statement its own transaction (one commit, the server's durability
/// settings). Each row holds what the store's does (a writer id of 32 characters per persistence
/// id, the manifest, sent as arrays like the other columns). The physical ceiling for the
/// PostgreSQL store's persist-many.
/// </summary>
internal sealed class LimitPostgresInsert(BenchOptions options) : IWorkload
{
    private const int Batch = 1000;
    private readonly int _ids = Math.Max(1, 1000 / options.ScaleDown);

    public string Name => "limit-postgres-insert";

    public IReadOnlyList<string> Stores { get; } = ["postgres"];

    public long N => _ids * 100L;

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var connectionString = context.Options.Postgres ?? throw new BenchCheckException("the postgres store needs --postgres CONNSTR or RECALL_BENCH_POSTGRES");
        var schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
        await PostgreSqlSchema.CreateAsync(new PostgreSqlStoreOptions { ConnectionString = connectionString, Schema = schema });
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        try
        {
            var payload = Encoding.UTF8.GetBytes("12345");
            var ids = Enumerable.Range(0, _ids).Select(i => $"bench-{i}").ToArray();
            var entityType = Slices.EntityTypeOf(ids[0]);
            var slices = ids.Select(Slices.Of).ToArray();
            var writers = ids.Select(_ => Guid.NewGuid().ToString("N")).ToArray();
            var batch = new Rows(Math.Min(Batch, (int)N));
            var clock = RunClock.StartNew();
            var row = 0;
            for (var sequenceNumber = 1; sequenceNumber <= 100; sequenceNumber++)
            {
                for (var i = 0; i < ids.Length; i++)
                {
                    batch.Set(row++, ids[i], sequenceNumber, writers[i], payload, entityType, slices[i]);
                    if (row == batch.Capacity)
                    {
                        await InsertAsync(connection, schema, batch, row);
                        row = 0;
                    }
                }
            }

            if (row > 0)
            {
                await InsertAsync(connection, schema, batch, row);
            }

            clock.Stop();
            await using var count = new NpgsqlCommand($"SELECT count(*) FROM \"{schema}\".journal", connection);
            var stored = (long)(await count.ExecuteScalarAsync())!;
            Check.That(stored == N, $"{stored} rows stored, expected {N}");
            return new RunResult(clock.Elapsed);
        }
        finally
        {
            await using var drop = new NpgsqlCommand($"DROP SCHEMA \"{schema}\" CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static async Task InsertAsync(NpgsqlConnection connection, string schema, Rows rows, int count)
    {
        await using var insert = new NpgsqlCommand(
            $"""
            INSERT INTO "{schema}".journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, entity_type, slice)
            SELECT p, s, w, t, m, b, e, l FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::bytea[], $7::text[], $8::integer[]) AS u(p, s, w, t, m, b, e, l)
            """,
            connection);
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Ids, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.SequenceNumbers, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Writers, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Timestamps, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Manifests, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Payloads, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.EntityTypes, count) });
        insert.Parameters.Add(new NpgsqlParameter { Value = Take(rows.Slices, count) });
        await insert.ExecuteNonQueryAsync(); // autocommit: one commit per statement
    }

    private static T[] Take<T>(T[] column, int count) => count == column.Length ? column : column[..count];

    /// <summary>One statement's columns.</summary>
    private sealed class Rows(int capacity)
    {
        public int Capacity => capacity;

        public string[] Ids { get; } = new string[capacity];

        public long[] SequenceNumbers { get; } = new long[capacity];

        public string[] Writers { get; } = new string[capacity];

        public DateTime[] Timestamps { get; } = new DateTime[capacity];

        public string[] Manifests { get; } = new string[capacity];

        public byte[][] Payloads { get; } = new byte[capacity][];

        public string[] EntityTypes { get; } = new string[capacity];

        public int[] Slices { get; } = new int[capacity];

        public void Set(int row, string id, long sequenceNumber, string writer, byte[] payload, string entityType, int slice)
        {
            Ids[row] = id;
            SequenceNumbers[row] = sequenceNumber;
            Writers[row] = writer;
            Timestamps[row] = DateTime.UtcNow;
            Manifests[row] = "int32";
            Payloads[row] = payload;
            EntityTypes[row] = entityType;
            Slices[row] = slice;
        }
    }
}
