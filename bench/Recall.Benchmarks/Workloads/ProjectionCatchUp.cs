using Microsoft.Data.Sqlite;
using Npgsql;
using Recall.Actors;
using Recall.Benchmarks.Workloads.Persistence;
using Recall.Persistence;
using Recall.Persistence.Journal;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Query;
using Recall.Persistence.Sqlite;
using Recall.Projections;
using Recall.Projections.PostgreSql;
using Recall.Projections.Sqlite;

namespace Recall.Benchmarks.Workloads;

/// <summary>
/// projection-catchup: N = 100,000 tagged events (1,000 persistence ids × 100, written once per
/// store, untimed, straight to the journal in batches of 1,000) are read by an exactly-once
/// projection from offset 0 (EventsByTag through the system's read journal) into a SQL read-model
/// table in the journal's own database: one row per persistence id with its event count and the
/// sum of its values, upserted in the transaction that also stores the projection's offset.
/// Batches of the default size (ProjectionOptions.MaxBatchSize, 1,000; a grouped handler with one
/// upsert statement per batch). Before each run
/// the read model and the offset are dropped (untimed). Timed: from starting the projection until
/// it has stored the offset of the last event. Checks: 1,000 rows, the event count and the value
/// sum of each id, the stored offset, the events the projection counted.
/// </summary>
internal sealed class ProjectionCatchUp(BenchOptions options) : IWorkload, IDisposable
{
    private const string Tag = "catchup";
    private readonly int _ids = Math.Max(1, 1000 / options.ScaleDown);
    private BenchStore? _sqlite;
    private string? _postgresSchema;
    private Offset _last;

    public string Name => "projection-catchup";

    public IReadOnlyList<string> Stores { get; } = ["sqlite", "postgres"];

    public long N => _ids * 100L;

    public async Task PrepareAsync(RunContext context)
    {
        Dispose();
        if (context.Store == "postgres")
        {
            _postgresSchema = "bench_" + Guid.NewGuid().ToString("N")[..12];
        }
        else
        {
            _sqlite = BenchStore.Fresh("sqlite");
        }

        var system = context.CreateSystem(Configure(context));
        var journal = system.Persistence().Journal;
        var writes = new AtomicWrite[_ids];
        var now = DateTimeOffset.UtcNow;
        for (var sequenceNumber = 1; sequenceNumber <= 100; sequenceNumber++)
        {
            for (var i = 0; i < _ids; i++)
            {
                writes[i] = new AtomicWrite(new PersistentRepr($"bench-{i}", sequenceNumber, sequenceNumber) { Tags = [Tag], Timestamp = now, WriterId = "bench" });
            }

            var results = await journal.WriteAsync(writes, CancellationToken.None);
            Check.That(results.All(r => r is null), $"writing the events: {results.FirstOrDefault(r => r is not null)?.Message}");
        }

        _last = await system.Persistence().ReadJournalStore!.ReadLatestOffsetAsync(CancellationToken.None);
        await system.TerminateAsync();
    }

    public async Task<RunResult> RunAsync(RunContext context)
    {
        await DropReadModelAsync(context);
        var system = context.CreateSystem(o => Configure(context)(o.UseProjections()));
        var projection = Projection(context); // with the default batch size: what a user gets
        var handle = system.Projections().Start(projection);

        var clock = RunClock.StartNew();
        await Check.Within(handle.WaitForOffsetAsync(_last), TimeSpan.FromMinutes(15), $"the projection reached offset {_last}");
        clock.Stop();

        var status = handle.Status;
        Check.That(status.EventsHandled == N && status.Restarts == 0, $"the projection handled {status.EventsHandled} events with {status.Restarts} restarts, expected {N} and none");
        await system.TerminateAsync();
        var (rows, events, total, wrong, offset) = await ReadResultAsync(context);
        Check.That(rows == _ids && events == N && total == _ids * 5050L && wrong == 0, $"read model: {rows} rows, {events} events, sum {total}, {wrong} rows off; expected {_ids}, {N}, {_ids * 5050L}");
        Check.That(offset == _last, $"stored offset {offset}, expected {_last}");
        if (context.Run == context.Options.Runs - 1)
        {
            Dispose();
        }

        return new RunResult(clock.Elapsed, new Dictionary<string, double>
        {
            ["cpu_seconds"] = clock.Cpu.TotalSeconds,
            ["batch_size"] = projection.Options.MaxBatchSize,
        });
    }

    /// <summary>The events written for the runs go with the last run.</summary>
    public Task CleanUpAsync(string store)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _sqlite?.Dispose();
        _sqlite = null;
        if (_postgresSchema is { } schema && options.Postgres is { } postgres)
        {
            using var connection = new NpgsqlConnection(postgres);
            connection.Open();
            using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
            command.ExecuteNonQuery();
        }

        _postgresSchema = null;
    }

    private Action<ActorSystemOptions> Configure(RunContext context) => o => o.UsePersistence(p =>
    {
        if (context.Store == "postgres")
        {
            p.UsePostgreSql(s =>
            {
                s.ConnectionString = context.Options.Postgres!;
                s.Schema = _postgresSchema!;
            });
        }
        else
        {
            p.UseSqlite(_sqlite!.SqlitePath!);
        }
    });

    private Projection Projection(RunContext context) => context.Store == "postgres"
        ? PostgreSqlProjection.ExactlyOnceGrouped("catchup", ProjectionSource.EventsByTag(Tag), new PostgreSqlProjectionDatabase(context.Options.Postgres!) { Schema = _postgresSchema! }, async (batch, connection, transaction, ct) =>
            {
                // One statement per batch: the per-id aggregates of the batch, upserted from arrays.
                var ids = new List<string>();
                var counts = new List<long>();
                var sums = new List<long>();
                foreach (var group in batch.GroupBy(e => e.PersistenceId, StringComparer.Ordinal))
                {
                    ids.Add(group.Key);
                    counts.Add(group.LongCount());
                    sums.Add(group.Sum(e => (long)(int)e.Event));
                }

                await using var command = new NpgsqlCommand(
                    $"""
                    INSERT INTO "{_postgresSchema}".read_model (persistence_id, events, total)
                    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
                    ON CONFLICT (persistence_id) DO UPDATE SET events = read_model.events + excluded.events, total = read_model.total + excluded.total
                    """,
                    connection,
                    transaction);
                command.Parameters.AddWithValue(ids.ToArray());
                command.Parameters.AddWithValue(counts.ToArray());
                command.Parameters.AddWithValue(sums.ToArray());
                await command.ExecuteNonQueryAsync(ct);
            })
            .WithSetup(async (connection, transaction, ct) =>
            {
                await using var command = new NpgsqlCommand(
                    $"CREATE TABLE IF NOT EXISTS \"{_postgresSchema}\".read_model (persistence_id text PRIMARY KEY, events bigint NOT NULL, total bigint NOT NULL)", connection, transaction);
                await command.ExecuteNonQueryAsync(ct);
            })
        : SqliteProjection.ExactlyOnceGrouped("catchup", ProjectionSource.EventsByTag(Tag), _sqlite!.SqlitePath!, (batch, connection, transaction, _) =>
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = """
                    INSERT INTO read_model (persistence_id, events, total) VALUES ($id, 1, $value)
                    ON CONFLICT (persistence_id) DO UPDATE SET events = events + 1, total = total + excluded.total
                    """;
                var id = command.Parameters.Add("$id", SqliteType.Text);
                var value = command.Parameters.Add("$value", SqliteType.Integer);
                command.Prepare();
                foreach (var envelope in batch)
                {
                    id.Value = envelope.PersistenceId;
                    value.Value = (int)envelope.Event;
                    command.ExecuteNonQuery();
                }

                return Task.CompletedTask;
            })
            .WithSetup((connection, transaction, _) =>
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "CREATE TABLE IF NOT EXISTS read_model (persistence_id TEXT PRIMARY KEY, events INTEGER NOT NULL, total INTEGER NOT NULL)";
                command.ExecuteNonQuery();
                return Task.CompletedTask;
            });

    private async Task DropReadModelAsync(RunContext context)
    {
        const string sql = "DROP TABLE IF EXISTS {0}read_model; DROP TABLE IF EXISTS {0}recall_projection_offsets;";
        if (context.Store == "postgres")
        {
            await using var connection = new NpgsqlConnection(context.Options.Postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, $"\"{_postgresSchema}\"."), connection);
            await command.ExecuteNonQueryAsync();
        }
        else
        {
            await using var connection = new SqliteConnection($"Data Source={_sqlite!.SqlitePath};Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, "") + " PRAGMA wal_checkpoint(TRUNCATE);";
            await command.ExecuteNonQueryAsync();
        }
    }

    private async Task<(long Rows, long Events, long Total, long Wrong, Offset Offset)> ReadResultAsync(RunContext context)
    {
        const string sql = """
            SELECT count(*), sum(events), sum(total), sum(CASE WHEN events = 100 AND total = 5050 THEN 0 ELSE 1 END),
                   (SELECT offset_transaction FROM {0}recall_projection_offsets), (SELECT offset_ordering FROM {0}recall_projection_offsets)
            FROM {0}read_model
            """;
        if (context.Store == "postgres")
        {
            await using var connection = new NpgsqlConnection(context.Options.Postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, $"\"{_postgresSchema}\"."), connection);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.GetInt64(0), Convert.ToInt64(reader.GetValue(1)), Convert.ToInt64(reader.GetValue(2)), reader.GetInt64(3), new Offset(reader.GetInt64(4), reader.GetInt64(5)));
        }
        else
        {
            await using var connection = new SqliteConnection($"Data Source={_sqlite!.SqlitePath};Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = string.Format(System.Globalization.CultureInfo.InvariantCulture, sql, "");
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), new Offset(reader.GetInt64(4), reader.GetInt64(5)));
        }
    }
}
