using Npgsql;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>What the PostgreSQL journal promises beyond the conformance suite: conflicts per atomic write, deleted histories, the read side's columns.</summary>
[RequiresPostgres]
public sealed class PostgreSqlJournalTests : IAsyncLifetime
{
    private readonly JournalSchema _store = new("journal");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _store.DisposeAsync().AsTask();

    [Fact]
    public async Task A_conflicting_atomic_write_fails_alone_and_stores_nothing_while_the_rest_of_the_batch_commits()
    {
        var journal = NewJournal();
        await WriteAllAsync(journal, Write("a", 1, 3));

        var results = await journal.WriteAsync(
            [Write("b", 1, 2), Write("a", 3, 5, "intruder"), Write("c", 1, 1), Write("d", 1, 3)],
            default);

        Assert.Null(results[0]);
        var conflict = Assert.IsType<SequenceConflictException>(results[1]);
        Assert.Equal(("a", 3L), (conflict.PersistenceId, conflict.SequenceNumber));
        Assert.Null(results[2]);
        Assert.Null(results[3]);
        Assert.Equal([("writer", 1L), ("writer", 2L), ("writer", 3L)], await StoredAsync("a"));
        Assert.Equal(2, (await StoredAsync("b")).Count);
        Assert.Single(await StoredAsync("c"));
        Assert.Equal(3, (await StoredAsync("d")).Count);
    }

    [Fact]
    public async Task A_key_repeated_inside_one_batch_is_a_conflict_of_the_later_write()
    {
        var journal = NewJournal();
        var results = await journal.WriteAsync([Write("a", 1, 2), Write("a", 2, 3, "intruder"), Write("b", 1, 1)], default);

        Assert.Null(results[0]);
        Assert.Equal(2, Assert.IsType<SequenceConflictException>(results[1]).SequenceNumber);
        Assert.Null(results[2]);
        Assert.Equal([("writer", 1L), ("writer", 2L)], await StoredAsync("a"));
    }

    [Fact]
    public async Task A_deleted_history_refuses_its_old_sequence_numbers()
    {
        var journal = NewJournal();
        await WriteAllAsync(journal, Write("a", 1, 5));
        await journal.DeleteToAsync("a", 5, default);

        var results = await journal.WriteAsync([Write("a", 3, 3, "stale"), Write("a", 5, 6, "stale"), Write("b", 1, 1)], default);
        Assert.Equal(3, Assert.IsType<SequenceConflictException>(results[0]).SequenceNumber);
        Assert.IsType<SequenceConflictException>(results[1]);
        Assert.Null(results[2]);
        Assert.Empty(await StoredAsync("a"));
        Assert.Equal(5, await journal.ReadHighestSequenceNumberAsync("a", 0, default));

        await WriteAllAsync(journal, Write("a", 6, 7));
        Assert.Equal([("writer", 6L), ("writer", 7L)], await StoredAsync("a"));

        // A partial delete keeps the highest too: a gap below it cannot be refilled.
        await journal.DeleteToAsync("a", 6, default);
        Assert.IsType<SequenceConflictException>((await journal.WriteAsync([Write("a", 2, 2, "stale")], default))[0]);
        Assert.Equal(7, await journal.ReadHighestSequenceNumberAsync("a", 0, default));
    }

    [Fact]
    public async Task Two_journals_racing_on_one_id_store_each_sequence_number_once()
    {
        var first = NewJournal();
        var second = NewJournal();
        const int events = 60;
        var outcomes = await Task.WhenAll(
            Task.Run(() => RaceAsync(first, "first")),
            Task.Run(() => RaceAsync(second, "second")));

        var stored = await StoredAsync("raced");
        Assert.Equal(Enumerable.Range(1, events).Select(n => (long)n), stored.Select(row => row.SequenceNumber));
        for (var n = 0; n < events; n++)
        {
            // Exactly one writer was told its event n+1 is stored, and it is that writer's event.
            Assert.True(outcomes[0][n] ^ outcomes[1][n], $"event {n + 1}: first {outcomes[0][n]}, second {outcomes[1][n]}");
            Assert.Equal(outcomes[0][n] ? "first" : "second", stored[n].WriterId);
        }

        async Task<bool[]> RaceAsync(PostgreSqlJournal journal, string writer)
        {
            var stored = new bool[events];
            for (var n = 1; n <= events; n++)
            {
                var result = (await journal.WriteAsync([Write("raced", n, n, writer)], default))[0];
                if (result is not null)
                {
                    Assert.IsType<SequenceConflictException>(result);
                }

                stored[n - 1] = result is null;
            }

            return stored;
        }
    }

    [Fact]
    public async Task Events_carry_a_global_ordering_their_transaction_id_and_a_tags_array()
    {
        var journal = NewJournal();
        await WriteAllAsync(journal, Write("x", 1, 2), Write("y", 1, 1));
        await WriteAllAsync(journal, Write("x", 3, 3));

        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT persistence_id, sequence_number, ordering, transaction_id::text::bigint, tags FROM \"{_store.Name}\".journal ORDER BY ordering", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string Id, long SequenceNumber, long Ordering, long Transaction, string[] Tags)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetFieldValue<string[]>(4)));
        }

        Assert.Equal([("x", 1L), ("x", 2L), ("y", 1L), ("x", 3L)], rows.Select(r => (r.Id, r.SequenceNumber)));
        Assert.Equal(rows[0].Transaction, rows[2].Transaction);
        Assert.True(rows[3].Transaction > rows[0].Transaction);
        Assert.Equal(["tag-1", "odd"], rows[0].Tags);
        Assert.Equal(["tag-2"], rows[1].Tags);
    }

    [Fact]
    public async Task A_reader_following_transaction_id_and_ordering_below_xmin_never_skips_a_late_commit()
    {
        var journal = NewJournal();
        await WriteAllAsync(journal, Write("early", 1, 1));

        // A slow transaction inserts first (it gets the lower ordering) and commits last.
        await using var slow = await PostgresServer.OpenAsync();
        await using var transaction = await slow.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            $"INSERT INTO \"{_store.Name}\".journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, entity_type, slice) VALUES ('slow', 1, 'w', now(), 'm', '\\x7b7d', '', {Slices.Of("slow")})",
            slow,
            transaction))
        {
            await insert.ExecuteNonQueryAsync();
        }

        await WriteAllAsync(journal, Write("fast", 1, 1));

        // By ordering alone, "fast" is visible after "early" while "slow" (a lower ordering) is not yet:
        // a reader resuming after "fast" would never see "slow". Below xmin, "fast" is held back.
        // (Other tests' transactions may hold xmin back for a moment too, hence the polling; while
        // "slow" is open, "fast" can never pass, whatever else runs.)
        Assert.Equal(["early", "fast"], (await ReadByOrderingAsync()).Select(row => row.Id));
        var first = await PollBelowXminAsync((0, 0), rows => rows.Count > 0);
        Assert.Equal(["early"], first.Select(row => row.Id));

        await transaction.CommitAsync();
        var rest = await PollBelowXminAsync(first[^1].Offset, rows => rows.Count == 2);
        Assert.Equal(["slow", "fast"], rest.Select(row => row.Id));
    }

    private async Task<List<(string Id, (long Transaction, long Ordering) Offset)>> PollBelowXminAsync(
        (long Transaction, long Ordering) after, Func<List<(string Id, (long Transaction, long Ordering) Offset)>, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var rows = await ReadBelowXminAsync(after);
            if (done(rows) || DateTime.UtcNow > deadline)
            {
                return rows;
            }

            await Task.Delay(20);
        }
    }

    private Task<List<(string Id, (long Transaction, long Ordering) Offset)>> ReadByOrderingAsync() =>
        QueryAsync($"SELECT persistence_id, transaction_id::text::bigint, ordering FROM \"{_store.Name}\".journal ORDER BY ordering", null);

    private Task<List<(string Id, (long Transaction, long Ordering) Offset)>> ReadBelowXminAsync((long Transaction, long Ordering) after) =>
        QueryAsync(
            $"""
            SELECT persistence_id, transaction_id::text::bigint, ordering FROM "{_store.Name}".journal
            WHERE (transaction_id, ordering) > ($1::text::xid8, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY transaction_id, ordering
            """,
            after);

    private static async Task<List<(string Id, (long Transaction, long Ordering) Offset)>> QueryAsync(string sql, (long Transaction, long Ordering)? after)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (after is { } offset)
        {
            command.Parameters.AddWithValue(offset.Transaction.ToString(System.Globalization.CultureInfo.InvariantCulture));
            command.Parameters.AddWithValue(offset.Ordering);
        }

        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, (long, long))>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), (reader.GetInt64(1), reader.GetInt64(2))));
        }

        return rows;
    }

    private PostgreSqlJournal NewJournal()
    {
        var serialization = new EventSerialization();
        serialization.Registry.Register<Happened>("test.happened.v1");
        return _store.NewJournal(serialization);
    }

    private static AtomicWrite Write(string id, long from, long to, string writer = "writer") =>
        new([.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(n => new PersistentRepr(id, n, new Happened(n))
        {
            WriterId = writer,
            Timestamp = DateTimeOffset.UtcNow,
            Tags = n % 2 == 1 ? [$"tag-{n}", "odd"] : [$"tag-{n}"],
        })]);

    private static async Task WriteAllAsync(PostgreSqlJournal journal, params AtomicWrite[] writes)
    {
        var results = await journal.WriteAsync(writes, default);
        Assert.All(results, Assert.Null);
    }

    private async Task<List<(string WriterId, long SequenceNumber)>> StoredAsync(string id)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT writer_id, sequence_number FROM \"{_store.Name}\".journal WHERE persistence_id = $1 ORDER BY sequence_number", connection);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return rows;
    }

    public sealed record Happened(long Number);
}
