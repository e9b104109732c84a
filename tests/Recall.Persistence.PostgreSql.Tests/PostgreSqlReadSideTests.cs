using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>
/// The tests that hold a transaction open, or wait for a notification against a long poll interval,
/// run alone: a write transaction anywhere on the server holds back what every reader may read
/// (the snapshot's xmin), so tests running beside them would disturb them or be disturbed.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ReadSideTiming
{
    public const string Name = "read side timing";
}

/// <summary>What the PostgreSQL read side promises beyond the query conformance suite.</summary>
[RequiresPostgres]
public sealed class PostgreSqlReadSideTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));
    private readonly JournalSchema _store = new("read");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _store.DisposeAsync().AsTask();

    [Fact]
    public async Task Many_journals_writing_at_once_are_read_by_a_live_stream_every_event_exactly_once()
    {
        const int writers = 6, idsPerWriter = 4, writesPerId = 15;
        var reader = _store.NewReads(Serialization());
        var read = new ReadJournal(reader, options: new ReadJournalOptions { PageSize = 7, PollInterval = TimeSpan.FromMilliseconds(200) });
        var expected = new HashSet<(string, long)>();
        for (var writer = 0; writer < writers; writer++)
        {
            for (var id = 0; id < idsPerWriter; id++)
            {
                for (var n = 1; n <= writesPerId * 2; n++)
                {
                    expected.Add(($"w{writer}|{id}", n));
                }
            }
        }

        using var cancel = new CancellationTokenSource(Timeout);
        var reading = CollectAsync(read.EventsByTag("all", Offset.Start, live: true, cancel.Token), expected.Count);

        // Each writer has its own journal (own pool), and its ids' writes interleave with the others':
        // their transactions commit in whatever order the server finishes them.
        await Task.WhenAll(Enumerable.Range(0, writers).Select(writer => Task.Run(async () =>
        {
            var journal = NewJournal();
            for (var n = 1; n <= writesPerId * 2; n += 2)
            {
                await Task.WhenAll(Enumerable.Range(0, idsPerWriter).Select(id => WriteAsync(journal, $"w{writer}|{id}", n, n + 1, "all")));
            }
        })));

        var seen = await reading;
        Assert.Equal(expected.Count, seen.Count);
        Assert.Equal(expected.Order(), seen.Select(e => (e.PersistenceId, e.SequenceNumber)).Order());
        AssertIncreasing(seen);
        foreach (var history in seen.GroupBy(e => e.PersistenceId))
        {
            Assert.Equal(Enumerable.Range(1, writesPerId * 2).Select(n => (long)n), history.Select(e => e.SequenceNumber));
        }
    }

    [Fact]
    public async Task Offsets_are_the_transaction_id_and_the_ordering_of_the_row()
    {
        var journal = NewJournal();
        await WriteAsync(journal, "x", 1, 2, "t");
        await WriteAsync(journal, "y", 1, 1, "t");
        var read = new ReadJournal(journal.Reads);

        var envelopes = await read.EventsByTag("t", Offset.Start, live: false, default).ToListAsync();
        var rows = await QueryAsync($"SELECT transaction_id::text::bigint, ordering FROM \"{_store.Name}\".journal ORDER BY ordering", r => new Offset(r.GetInt64(0), r.GetInt64(1)));
        Assert.Equal(rows, envelopes.Select(e => e.Offset));
        Assert.Equal(envelopes[0].Offset.Transaction, envelopes[1].Offset.Transaction);
        Assert.True(envelopes[2].Offset.Transaction > envelopes[1].Offset.Transaction);
        Assert.Equal(envelopes[^1].Offset, await journal.Reads.ReadLatestOffsetAsync(default));
        Assert.Equal(envelopes[1].Offset, Offset.Parse(envelopes[1].Offset.ToString()));
    }

    [Fact]
    public async Task Deleted_events_are_not_read_by_tag_or_slices_and_their_tag_rows_go()
    {
        var journal = NewJournal();
        await WriteAsync(journal, "shop|a", 1, 4, "red", "blue");
        await WriteAsync(journal, "shop|b", 1, 2, "red");
        await journal.DeleteToAsync("shop|a", 3, default);
        var read = new ReadJournal(journal.Reads);

        Assert.Equal([("shop|a", 4L), ("shop|b", 1L), ("shop|b", 2L)], (await read.EventsByTag("red", Offset.Start, live: false, default).ToListAsync()).Select(e => (e.PersistenceId, e.SequenceNumber)));
        Assert.Equal([("shop|a", 4L)], (await read.EventsByTag("blue", Offset.Start, live: false, default).ToListAsync()).Select(e => (e.PersistenceId, e.SequenceNumber)));
        Assert.Equal(3, (await read.EventsBySlices("shop", 0, Slices.Count - 1, Offset.Start, live: false, default).ToListAsync()).Count);
        Assert.Equal([3L], await QueryAsync($"SELECT count(*) FROM \"{_store.Name}\".journal_tags WHERE tag = 'red'", r => r.GetInt64(0)));
        Assert.Equal(["shop|a", "shop|b"], await read.PersistenceIds(live: false, default).ToListAsync());
    }

    [Fact]
    public async Task Events_carry_their_entity_type_and_slice_and_an_event_with_a_repeated_tag_is_stored_once_per_tag()
    {
        var journal = NewJournal();
        await WriteAsync(journal, "account|42", 1, 1, "x", "x", "y");
        await WriteAsync(journal, "no-type", 1, 1);

        var rows = await QueryAsync($"SELECT persistence_id, entity_type, slice FROM \"{_store.Name}\".journal ORDER BY ordering", r => (r.GetString(0), r.GetString(1), r.GetInt32(2)));
        Assert.Equal([("account|42", "account", Slices.Of("account|42")), ("no-type", "", Slices.Of("no-type"))], rows);
        Assert.Equal(["x", "y"], await QueryAsync($"SELECT tag FROM \"{_store.Name}\".journal_tags ORDER BY tag", r => r.GetString(0)));
        var envelope = Assert.Single(await new ReadJournal(journal.Reads).EventsByTag("x", Offset.Start, live: false, default).ToListAsync());
        Assert.Equal(["x", "x", "y"], envelope.Tags);
    }

    [Fact]
    public async Task Persistence_ids_page_through_events_deleted_histories_and_snapshots_in_byte_order()
    {
        var journal = NewJournal();
        await using var snapshots = new PostgreSqlSnapshotStore(PostgresServer.Options(_store.Name), Serialization());
        string[] ids = ["b", "B", "a|1", "é", "e\u0301", "z-snap", "deleted"];
        foreach (var id in ids.Take(5))
        {
            await WriteAsync(journal, id, 1, 3);
        }

        await WriteAsync(journal, "deleted", 1, 2);
        await journal.DeleteToAsync("deleted", long.MaxValue, default);
        await snapshots.SaveAsync(new Snapshots.SnapshotMetadata("z-snap", 4, DateTimeOffset.UtcNow), new Happened(0), default);
        await snapshots.SaveAsync(new Snapshots.SnapshotMetadata("b", 3, DateTimeOffset.UtcNow), new Happened(0), default);

        var read = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PageSize = 2 });
        var listed = await read.PersistenceIds(live: false, default).ToListAsync();
        Assert.Equal(ids.Order(StringComparer.Ordinal), listed);
        Assert.Equal(listed, await QueryAsync($"SELECT id FROM unnest(ARRAY['{string.Join("','", ids)}']) AS u(id) ORDER BY id COLLATE \"C\"", r => r.GetString(0)));
    }

    [Fact]
    public async Task A_finite_stream_starts_no_listener()
    {
        var journal = NewJournal();
        await WriteAsync(journal, "a", 1, 2, "t");
        var read = new ReadJournal(journal.Reads);
        Assert.Equal(2, (await read.EventsByTag("t", Offset.Start, live: false, default).ToListAsync()).Count);
        Assert.Equal(2, (await read.EventsByPersistenceId("a", 1, long.MaxValue, live: false, default).ToListAsync()).Count);
        Assert.Single(await read.PersistenceIds(live: false, default).ToListAsync());
        Assert.Equal(0, journal.Reads.Listener.Connections);
    }

    [Fact]
    public async Task Disposing_a_journals_reader_again_and_again_leaves_the_journals_pool_open()
    {
        var journal = NewJournal();
        await journal.Reads.DisposeAsync();
        await journal.Reads.DisposeAsync();

        await WriteAsync(journal, "a", 1, 2);
        Assert.Equal(2, await journal.ReadHighestSequenceNumberAsync("a", 0, default));
    }

    [Fact]
    public async Task NotifyOnWrite_false_writes_send_no_notification()
    {
        await using var listener = await PostgresServer.OpenAsync();
        var notified = 0;
        listener.Notification += (_, _) => Interlocked.Increment(ref notified);
        await using (var listen = new NpgsqlCommand($"LISTEN \"recall_{_store.Name}\"", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await WriteAsync(NewJournal(o => o.NotifyOnWrite = false), "quiet", 1, 1);
        Assert.False(await listener.WaitAsync(TimeSpan.FromMilliseconds(500)));
        Assert.Equal(0, notified);

        await WriteAsync(NewJournal(), "loud", 1, 1);
        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, notified);
    }

    private PostgreSqlJournal NewJournal(Action<PostgreSqlStoreOptions>? configure = null)
    {
        return _store.NewJournal(Serialization(), configure);
    }

    internal static EventSerialization Serialization()
    {
        var serialization = new EventSerialization();
        serialization.Registry.Register<Happened>("test.read-happened.v1");
        return serialization;
    }

    internal static PersistentRepr Event(string id, long sequenceNumber, params string[] tags) => new(id, sequenceNumber, new Happened(sequenceNumber))
    {
        WriterId = "writer",
        Timestamp = DateTimeOffset.UtcNow,
        Tags = tags,
    };

    internal static async Task WriteAsync(PostgreSqlJournal journal, string id, long from, long to, params string[] tags)
    {
        var write = new AtomicWrite([.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(n => Event(id, n, tags))]);
        var result = (await journal.WriteAsync([write], default))[0];
        Assert.Null(result);
    }

    internal static async Task<List<EventEnvelope>> CollectAsync(IAsyncEnumerable<EventEnvelope> stream, int count)
    {
        var seen = new List<EventEnvelope>();
        await foreach (var envelope in stream)
        {
            seen.Add(envelope);
            if (seen.Count == count)
            {
                break;
            }
        }

        return seen;
    }

    internal static void AssertIncreasing(IReadOnlyList<EventEnvelope> envelopes)
    {
        for (var i = 1; i < envelopes.Count; i++)
        {
            Assert.True(envelopes[i - 1].Offset < envelopes[i].Offset, $"offset {envelopes[i].Offset} does not come after {envelopes[i - 1].Offset}");
        }
    }

    internal static async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public sealed record Happened(long Number);
}

/// <summary>
/// Commits out of order and the push of LISTEN/NOTIFY, each test alone on the server (see
/// <see cref="ReadSideTiming"/>).
/// </summary>
[RequiresPostgres]
[Collection(ReadSideTiming.Name)]
public sealed class PostgreSqlReadSideTimingTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(60));

    /// <summary>
    /// How soon a notified stream must deliver: far below the poll interval of these tests
    /// (<see cref="NoPoll"/>), and generous, as any older transaction of the server (another test
    /// process's) holds events back until it ends.
    /// </summary>
    private static readonly TimeSpan Prompt = TestKitSettings.Dilated(TimeSpan.FromSeconds(20));

    /// <summary>A poll interval no test waits for: what these tests see came from a notification or a follow-up read.</summary>
    private static readonly TimeSpan NoPoll = TimeSpan.FromMinutes(10);

    private readonly JournalSchema _store = new("timing");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _store.DisposeAsync().AsTask();

    [Fact]
    public async Task A_write_that_commits_after_later_ones_is_read_once_and_nothing_is_skipped()
    {
        var reader = NewJournal();
        var read = new ReadJournal(reader.Reads, options: new ReadJournalOptions { PageSize = 5, PollInterval = TimeSpan.FromMilliseconds(50) });
        var writers = Enumerable.Range(0, 3).Select(_ => NewJournal()).ToArray();
        var seen = new ConcurrentQueue<EventEnvelope>();
        using var cancel = new CancellationTokenSource(Timeout * 2);
        var reading = Task.Run(async () =>
        {
            await foreach (var envelope in read.EventsByTag("t", Offset.Start, live: true, cancel.Token))
            {
                seen.Enqueue(envelope);
            }
        });

        // Before: committed events.
        var before = new HashSet<(string, long)>();
        foreach (var (writer, w) in writers.Select((writer, w) => (writer, w)))
        {
            await PostgreSqlReadSideTests.WriteAsync(writer, $"before-{w}", 1, 4, "t");
            before.UnionWith(Enumerable.Range(1, 4).Select(n => ($"before-{w}", (long)n)));
        }

        // "early" gets its transaction id first, "held" second (with the journal's own statement,
        // so with a lower ordering than everything written after it). "early" then commits while
        // "held" stays open: early is final (no transaction below it runs), held is not.
        await using var earlyConnection = await PostgresServer.OpenAsync();
        await using var early = await earlyConnection.BeginTransactionAsync();
        await reader.InsertInTransactionAsync(early, [new AtomicWrite([PostgreSqlReadSideTests.Event("early", 1, "t")])], default);
        await using var heldConnection = await PostgresServer.OpenAsync();
        await using var held = await heldConnection.BeginTransactionAsync();
        await reader.InsertInTransactionAsync(held, [new AtomicWrite([PostgreSqlReadSideTests.Event("held", 1, "t"), PostgreSqlReadSideTests.Event("held", 2, "t")])], default);
        long heldOrdering;
        await using (var ordering = new NpgsqlCommand($"SELECT max(ordering) FROM \"{_store.Name}\".journal", heldConnection, held))
        {
            heldOrdering = (long)(await ordering.ExecuteScalarAsync())!;
        }

        await early.CommitAsync();
        before.Add(("early", 1));

        // After: many writes from three journals at once, all committed while "held" is open.
        var after = new HashSet<(string, long)>();
        await Task.WhenAll(writers.Select((writer, w) => Task.Run(async () =>
        {
            for (var n = 1; n <= 30; n += 3)
            {
                await PostgreSqlReadSideTests.WriteAsync(writer, $"after-{w}", n, n + 2, "t");
            }
        })));
        for (var w = 0; w < writers.Length; w++)
        {
            after.UnionWith(Enumerable.Range(1, 30).Select(n => ($"after-{w}", (long)n)));
        }

        // By ordering alone, the later rows are visible past the held one's lower ordering: a reader
        // following ordering would deliver them and then skip "held" for ever.
        var visibleByOrdering = await PostgreSqlReadSideTests.QueryAsync($"SELECT count(*) FROM \"{_store.Name}\".journal WHERE ordering > {heldOrdering}", r => r.GetInt64(0));
        Assert.Equal(after.Count, visibleByOrdering[0]);

        // The reader delivered everything final (including "early", committed after "held" began),
        // and nothing of "held" nor of the rows behind it; 20 more polls change nothing.
        await UntilAsync(() => seen.Count >= before.Count, $"the {before.Count} final events");
        var polled = reader.Reads.PagesRead;
        await UntilAsync(() => reader.Reads.PagesRead >= polled + 20, "20 more polls");
        Assert.Equal(before.Order(), seen.Select(e => (e.PersistenceId, e.SequenceNumber)).Order());

        await held.CommitAsync();
        var all = before.Concat([("held", 1L), ("held", 2L)]).Concat(after).ToHashSet();
        await UntilAsync(() => seen.Count >= all.Count, $"all {all.Count} events");
        polled = reader.Reads.PagesRead;
        await UntilAsync(() => reader.Reads.PagesRead >= polled + 5, "5 more polls (nothing is delivered twice)");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);

        var delivered = seen.ToList();
        Assert.Equal(all.Count, delivered.Count);
        Assert.Equal(all.Order(), delivered.Select(e => (e.PersistenceId, e.SequenceNumber)).Order());
        PostgreSqlReadSideTests.AssertIncreasing(delivered);

        // "held" comes right after the events that were final while it was open, before every later one.
        Assert.Equal(["held", "held"], delivered.Skip(before.Count).Take(2).Select(e => e.PersistenceId));
    }

    [Fact]
    public async Task A_live_stream_wakes_on_another_journals_write_long_before_its_poll_interval()
    {
        var reader = NewReads();
        var writer = NewJournal();
        var read = new ReadJournal(reader, options: new ReadJournalOptions { PollInterval = NoPoll });
        await PostgreSqlReadSideTests.WriteAsync(writer, "a", 1, 1, "t");

        using var cancel = new CancellationTokenSource(Timeout * 2);
        var arrivals = System.Threading.Channels.Channel.CreateUnbounded<(EventEnvelope Envelope, long At)>();
        var reading = Task.Run(async () =>
        {
            await foreach (var envelope in read.EventsByTag("t", Offset.Start, live: true, cancel.Token))
            {
                arrivals.Writer.TryWrite((envelope, Stopwatch.GetTimestamp()));
            }
        });

        Assert.Equal(("a", 1L), await NextAsync());
        await reader.Listener.FirstListen.WaitAsync(Timeout);
        for (var n = 2; n <= 4; n++)
        {
            var sent = Stopwatch.GetTimestamp();
            await PostgreSqlReadSideTests.WriteAsync(writer, "a", n, n, "t");
            var (envelope, at) = await arrivals.Reader.ReadAsync(cancel.Token).AsTask().WaitAsync(Prompt);
            Assert.Equal(("a", (long)n), (envelope.PersistenceId, envelope.SequenceNumber));
            Assert.True(Stopwatch.GetElapsedTime(sent, at) < Prompt);
        }

        Assert.Equal(1, reader.Listener.Connections);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);

        async Task<(string, long)> NextAsync()
        {
            var (envelope, _) = await arrivals.Reader.ReadAsync(cancel.Token).AsTask().WaitAsync(Prompt);
            return (envelope.PersistenceId, envelope.SequenceNumber);
        }
    }

    [Fact]
    public async Task A_stream_woken_while_an_older_transaction_still_runs_reads_again_when_it_ends_without_waiting_for_its_poll()
    {
        var reader = NewReads();
        var writer = NewJournal();
        var read = new ReadJournal(reader, options: new ReadJournalOptions { PollInterval = NoPoll });
        using var cancel = new CancellationTokenSource(Timeout);
        var reading = PostgreSqlReadSideTests.CollectAsync(read.EventsByTag("t", Offset.Start, live: true, cancel.Token), 1);
        await reader.Listener.FirstListen.WaitAsync(Timeout);

        // A transaction of something else (it sends no notification) holds back what is final.
        await using var other = await PostgresServer.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT pg_current_xact_id()", other, transaction))
        {
            await command.ExecuteScalarAsync();
        }

        // The write's notification wakes the stream, which finds the event committed but not final
        // (two pages: the second starts only after the first one's events were handed out).
        var polled = reader.PagesRead;
        await PostgreSqlReadSideTests.WriteAsync(writer, "a", 1, 1, "t");
        await UntilAsync(() => reader.PagesRead >= polled + 2, "the stream to read after the write");
        Assert.False(reading.IsCompleted);

        await transaction.CommitAsync();

        // Final once no transaction older than the write runs on the server: ours ended, but another
        // process's may still run (the other test projects share the server). Timed from then.
        await UntilAsync(IsEverythingFinalAsync, "no transaction older than the write to run on the server");
        var final = Stopwatch.GetTimestamp();
        var envelope = Assert.Single(await reading.WaitAsync(Prompt));
        Assert.Equal(("a", 1L), (envelope.PersistenceId, envelope.SequenceNumber));
        Assert.True(Stopwatch.GetElapsedTime(final) < Prompt);
    }

    private async Task<bool> IsEverythingFinalAsync()
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT coalesce(max(transaction_id) < pg_snapshot_xmin(pg_current_snapshot()), true) FROM \"{_store.Name}\".journal", connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Writes_of_the_same_journal_wake_its_streams_without_a_notification()
    {
        var journal = NewJournal(o => o.NotifyOnWrite = false);
        var read = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PollInterval = NoPoll });
        using var cancel = new CancellationTokenSource(Timeout);
        var reading = PostgreSqlReadSideTests.CollectAsync(read.EventsByTag("t", Offset.Start, live: true, cancel.Token), 3);
        await journal.Reads.Listener.FirstListen.WaitAsync(Timeout);
        var sent = Stopwatch.GetTimestamp();
        await PostgreSqlReadSideTests.WriteAsync(journal, "a", 1, 3, "t");
        Assert.Equal(3, (await reading.WaitAsync(Prompt)).Count);
        Assert.True(Stopwatch.GetElapsedTime(sent) < Prompt);
    }

    [Fact]
    public async Task The_systems_read_journal_wakes_at_the_systems_own_writes_without_a_notification()
    {
        // The system reads through a read store of its own over the journal's pool: a write of the
        // journal wakes its live streams with no notification and no poll.
        await using var system = ActorSystem.Create("pg-read", o => o.UsePersistence(p =>
        {
            p.UsePostgreSql(s =>
            {
                s.ConnectionString = PostgresServer.Required;
                s.Schema = _store.Name;
                s.NotifyOnWrite = false;
            });
            p.Events.Register<PostgreSqlReadSideTests.Happened>("test.read-happened.v1");
            p.Query.PollInterval = NoPoll;
        }));
        var reads = Assert.IsType<PostgreSqlReadJournalStore>(system.Persistence().ReadJournalStore);
        var journal = Assert.IsType<PostgreSqlJournal>(system.Persistence().Journal);
        await PostgreSqlReadSideTests.WriteAsync(journal, "a", 1, 1, "t");
        using var cancel = new CancellationTokenSource(Timeout * 2);
        var arrivals = System.Threading.Channels.Channel.CreateUnbounded<EventEnvelope>();
        var reading = Task.Run(async () =>
        {
            await foreach (var envelope in system.Persistence().ReadJournal.EventsByTag("t", Offset.Start, live: true, cancel.Token))
            {
                arrivals.Writer.TryWrite(envelope);
            }
        });

        // Caught up, and past the listener's first wake-up: from here only a write can wake the stream.
        Assert.Equal(1, (await arrivals.Reader.ReadAsync(cancel.Token).AsTask().WaitAsync(Prompt)).SequenceNumber);
        await reads.Listener.FirstListen.WaitAsync(Timeout);
        for (var n = 2; n <= 4; n++)
        {
            var sent = Stopwatch.GetTimestamp();
            await PostgreSqlReadSideTests.WriteAsync(journal, "a", n, n, "t");
            var envelope = await arrivals.Reader.ReadAsync(cancel.Token).AsTask().WaitAsync(Prompt);
            Assert.Equal(("a", (long)n), (envelope.PersistenceId, envelope.SequenceNumber));
            Assert.True(Stopwatch.GetElapsedTime(sent) < Prompt);
        }

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
    }

    [Fact]
    public async Task The_listener_reconnects_when_its_connection_is_cut_and_closes_on_dispose()
    {
        var reader = NewReads();
        var writer = NewJournal();
        var read = new ReadJournal(reader, options: new ReadJournalOptions { PollInterval = NoPoll });
        using var cancel = new CancellationTokenSource(Timeout * 2);
        var arrivals = System.Threading.Channels.Channel.CreateUnbounded<EventEnvelope>();
        var reading = Task.Run(async () =>
        {
            await foreach (var envelope in read.EventsByTag("t", Offset.Start, live: true, cancel.Token))
            {
                arrivals.Writer.TryWrite(envelope);
            }
        });
        await reader.Listener.FirstListen.WaitAsync(Timeout);
        var first = reader.Listener.ProcessId;

        // The server ends the listening connection (as a restart or a network failure would).
        await PostgresServer.ExecuteAsync($"SELECT pg_terminate_backend({first})");
        await UntilAsync(() => reader.Listener.Connections == 2, "the listener to reconnect");
        Assert.NotEqual(first, reader.Listener.ProcessId);

        await PostgreSqlReadSideTests.WriteAsync(writer, "a", 1, 1, "t");
        var envelope = await arrivals.Reader.ReadAsync(cancel.Token).AsTask().WaitAsync(Prompt);
        Assert.Equal(("a", 1L), (envelope.PersistenceId, envelope.SequenceNumber));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        var second = reader.Listener.ProcessId;
        await reader.DisposeAsync();
        await UntilAsync(
            async () => (await PostgreSqlReadSideTests.QueryAsync($"SELECT count(*) FROM pg_stat_activity WHERE pid = {second}", r => r.GetInt64(0)))[0] == 0,
            "the listening connection to close");
    }

    private PostgreSqlJournal NewJournal(Action<PostgreSqlStoreOptions>? configure = null)
    {
        return _store.NewJournal(PostgreSqlReadSideTests.Serialization(), configure);
    }

    /// <summary>A read store of its own: its listener is the only one of its pool.</summary>
    private PostgreSqlReadJournalStore NewReads() => _store.NewReads(PostgreSqlReadSideTests.Serialization());

    private static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
        while (!await condition())
        {
            Assert.True(Stopwatch.GetTimestamp() < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }
}
