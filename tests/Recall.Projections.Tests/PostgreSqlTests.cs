using Npgsql;
using Recall.Persistence;
using Recall.Persistence.Journal;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.PostgreSql.Tests;
using Recall.Persistence.Query;
using Recall.Projections.PostgreSql;

// The PostgreSQL tests of this assembly skip (or, under RECALL_REQUIRE_POSTGRES=1, fail) without a
// server, exactly as those of Recall.Persistence.PostgreSql.Tests do.
[assembly: TestFramework("Recall.Persistence.PostgreSql.Tests.PostgresTestFramework", "Recall.Persistence.PostgreSql.Tests")]

namespace Recall.Projections.Tests;

/// <summary>Offsets and exactly-once projections in PostgreSQL.</summary>
[RequiresPostgres]
public sealed class PostgreSqlTests : IAsyncLifetime
{
    private readonly string _schema = PostgresServer.NewSchema("proj");
    private readonly Harness _harness = Harness.Create();

    private PostgreSqlProjectionDatabase Database => new(PostgresServer.Required) { Schema = _schema };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }

    private static async Task<object?> RawScalarAsync(string sql)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private async Task<long> ScalarAsync(string sql) => Convert.ToInt64(await RawScalarAsync(sql.Replace("$s", $"\"{_schema}\"", StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task InsertAsync(EventEnvelope envelope, NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"INSERT INTO \"{schema}\".model (persistence_id, sequence_number, value) VALUES ($1, $2, $3)", connection, transaction);
        command.Parameters.AddWithValue(envelope.PersistenceId);
        command.Parameters.AddWithValue(envelope.SequenceNumber);
        command.Parameters.AddWithValue(((Added)envelope.Event).Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<long> RowsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM \"{_schema}\".model", connection, transaction);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task AssertExactlyOnceAsync(int count)
    {
        Assert.Equal(count, await ScalarAsync("SELECT count(*) FROM $s.model"));
        Assert.Equal((long)count * (count + 1) / 2, await ScalarAsync("SELECT coalesce(sum(value), 0) FROM $s.model"));
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM (SELECT 1 FROM $s.model GROUP BY persistence_id, sequence_number HAVING count(*) > 1) d"));
    }

    private PostgreSqlProjection Model(PostgreSqlEnvelopeHandler handler) =>
        PostgreSqlProjection.ExactlyOnce("model", ProjectionSource.EventsByTag("green"), Database, handler)
            .WithSetup(async (c, t, ct) =>
            {
                await using var command = new NpgsqlCommand($"CREATE TABLE IF NOT EXISTS \"{_schema}\".model (persistence_id text NOT NULL, sequence_number bigint NOT NULL, value integer NOT NULL)", c, t);
                await command.ExecuteNonQueryAsync(ct);
            })
            .WithClear(async (c, t, ct) =>
            {
                await using var command = new NpgsqlCommand($"DELETE FROM \"{_schema}\".model", c, t);
                await command.ExecuteNonQueryAsync(ct);
            })
            .WithOptions(o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBatchDelay = TimeSpan.FromMilliseconds(200);
                o.MinBackoff = TimeSpan.FromMilliseconds(20);
            });

    [Fact]
    public async Task A_handler_failing_mid_batch_rolls_back_and_every_event_is_applied_once()
    {
        var last = await _harness.WriteManyAsync("green", 50);
        long rowsAtFailure = -1;
        var failed = 0;
        var handle = _harness.Projections.Start(Model(async (e, c, t, ct) =>
        {
            await InsertAsync(e, c, t, _schema, ct);
            if (((Added)e.Event).Value == 27 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                rowsAtFailure = await RowsAsync(c, t);
                throw new InvalidOperationException("constraint violated");
            }
        }));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        Assert.Equal(27, rowsAtFailure);
        await AssertExactlyOnceAsync(50);
        Assert.Equal(1, handle.Status.Restarts);
        Assert.Equal(last.Ordering, await ScalarAsync("SELECT offset_ordering FROM $s.recall_projection_offsets WHERE projection_name = 'model' AND projection_key = 'green'"));

        await handle.PauseAsync();
        await handle.RebuildAsync();
        Assert.Equal(0, await ScalarAsync("SELECT count(*) FROM $s.model"));
        await handle.ResumeAsync();
        await Wait.UntilAsync(() => handle.Status.Offset == last, "the rebuild");
        await AssertExactlyOnceAsync(50);

        var row = Assert.Single(await PostgreSqlProjectionsInspector.ReadAsync(PostgresServer.Required, _schema));
        Assert.Equal((new ProjectionId("model", "green"), last, ProjectionState.Running), (row.Id, row.Offset, row.State));
        Assert.Equal(Harness.T0.AddSeconds(50), row.LastEventTimestamp);
        Assert.Contains("constraint violated", row.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_offset_store_keeps_offsets_and_states()
    {
        Assert.Empty(await PostgreSqlProjectionsInspector.ReadAsync(PostgresServer.Required, _schema));
        Assert.Equal(0, await ScalarAsync($"SELECT count(*) FROM pg_namespace WHERE nspname = '{_schema}'"));

        var id = new ProjectionId("p", "k");
        await using (var store = new PostgreSqlProjectionOffsetStore(Database))
        {
            Assert.Null(await store.ReadAsync(id, default));
            await store.SaveStateAsync(id, ProjectionState.Failed, "boom", default);
            await store.SaveOffsetAsync(id, new Offset(700, 42), Harness.T0, default);
            await store.SaveStateAsync(id, ProjectionState.Paused, null, default);
            await store.SaveOffsetAsync(id, new Offset(701, 43), null, default);
        }

        await using var again = new PostgreSqlProjectionOffsetStore(Database);
        var row = await again.ReadAsync(id, default);
        Assert.Equal((new Offset(701, 43), (DateTimeOffset?)null, ProjectionState.Paused, "boom"), (row!.Offset, row.LastEventTimestamp, row.State, row.LastError));
    }

    [Fact]
    public async Task An_at_least_once_projection_keeps_its_offset_in_postgres()
    {
        var last = await _harness.WriteManyAsync("green", 12);
        await using var offsets = new PostgreSqlProjectionOffsetStore(Database);
        var seen = 0;
        var handle = _harness.Projections.Start(Projection.AtLeastOnce("counting", ProjectionSource.EventsByTag("green"), offsets, (_, _) =>
        {
            Interlocked.Increment(ref seen);
            return Task.CompletedTask;
        }));
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        await handle.StopAsync();

        Assert.Equal(12, seen);
        Assert.Equal(last, (await offsets.ReadAsync(handle.Id, default))!.Offset);
        Assert.Equal("stopped", await RawScalarAsync($"SELECT state FROM \"{_schema}\".recall_projection_offsets WHERE projection_name = 'counting'"));
    }

    [Fact]
    public async Task A_projection_of_the_postgres_journal_into_its_own_schema_applies_concurrent_writes_exactly_once()
    {
        await using var system = ActorSystem.Create("pg", o => o
            .UsePersistence(p => p.UsePostgreSql(s =>
            {
                s.ConnectionString = PostgresServer.Required;
                s.Schema = _schema;
                s.MaxReadConnections = 4;
                s.MaxWriteConnections = 3;
            }))
            .UseProjections());
        var journal = system.Persistence().Journal;
        var value = 0;
        async Task WriteAsync(string id, int from, int count)
        {
            // Atomic writes of 1 to 3 events, each its own transaction.
            var sequenceNumber = 1;
            for (var i = 0; i < count;)
            {
                var size = Math.Min(1 + (i % 3), count - i);
                var events = Enumerable.Range(0, size)
                    .Select(k => new PersistentRepr(id, sequenceNumber + k, new Added(from + i + k)) { Tags = ["green"], Timestamp = DateTimeOffset.UtcNow, WriterId = "w" })
                    .ToList();
                var results = await journal.WriteAsync([new AtomicWrite(events)], default);
                Assert.Null(results[0]);
                sequenceNumber += size;
                i += size;
            }
        }

        await WriteAsync("stored", 1, 40);
        value = 40;
        var failed = 0;
        var handle = system.Projections().Start(Model(async (e, c, t, ct) =>
        {
            await InsertAsync(e, c, t, _schema, ct);
            if (((Added)e.Event).Value == 27 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                throw new InvalidOperationException("constraint violated");
            }
        }));

        // Three writers commit concurrently while the projection follows the live stream.
        await Task.WhenAll(Enumerable.Range(0, 3).Select(w => WriteAsync($"live-{w}", value + 1 + (w * 30), 30)));
        var last = await system.Persistence().ReadJournalStore!.ReadLatestOffsetAsync(default);
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up with the concurrent writes");

        await AssertExactlyOnceAsync(130);
        Assert.Equal(1, handle.Status.Restarts);
        Assert.True(last.Transaction > 0, $"a PostgreSQL offset carries its transaction: {last}");
        Assert.Equal(last.Transaction, await ScalarAsync("SELECT offset_transaction FROM $s.recall_projection_offsets WHERE projection_name = 'model'"));
        Assert.Equal(last.Ordering, await ScalarAsync("SELECT offset_ordering FROM $s.recall_projection_offsets WHERE projection_name = 'model'"));
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM pg_tables WHERE schemaname = '" + _schema + "' AND tablename = 'journal'"));
    }
}
