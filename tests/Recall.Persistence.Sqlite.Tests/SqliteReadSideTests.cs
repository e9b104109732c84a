using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>The SQLite read side beyond the conformance suite: several stores and processes on one file, paging, and what reading leaves to the writer.</summary>
public sealed class SqliteReadSideTests : IDisposable
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));
    private readonly TempDatabase _database = new();

    [EventType("sqlite-read.note.v1")]
    public sealed record Note(string Text);

    /// <summary>What the durability probe persists (manifest probe.added.v1), read here by manifest alone.</summary>
    [EventType("probe.added.v1")]
    public sealed record ProbeAdded(int Value);

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task An_empty_file_has_the_start_offset_as_latest()
    {
        await using var journal = Open();
        Assert.Equal(Offset.Start, await journal.Reads.ReadLatestOffsetAsync(default));
        await WriteAsync(journal, "note|a", 1, 3, "t");
        Assert.Equal(Offset.Sequence(3), await journal.Reads.ReadLatestOffsetAsync(default));
    }

    [Fact]
    public async Task A_live_stream_of_a_second_store_on_the_file_finds_the_first_ones_writes_by_polling_and_its_own_at_once()
    {
        await using var writer = Open();
        await using var reader = Open();
        var time = new FakeTimeProvider();
        var read = new ReadJournal(reader.Reads, options: new ReadJournalOptions { PollInterval = TimeSpan.FromMinutes(5) }, timeProvider: time);
        using var cancel = new CancellationTokenSource(Timeout);
        await WriteAsync(writer, "note|a", 1, 1, "t");
        await using var stream = read.EventsByTag("t", Offset.Start, live: true, cancel.Token).GetAsyncEnumerator(cancel.Token);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(("note|a", 1L), (stream.Current.PersistenceId, stream.Current.SequenceNumber));

        // The stream has caught up: the call below returns once it waits (it starts its wait before
        // its first await). A write of the other store does not wake it (each store notifies only
        // its own streams); the next poll finds it.
        var next = stream.MoveNextAsync().AsTask();
        await WriteAsync(writer, "note|a", 2, 2, "t");
        await Task.Delay(TestKitSettings.Dilated(TimeSpan.FromMilliseconds(500)));
        Assert.False(next.IsCompleted, "the stream woke without a poll or a write of its own store");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal(("note|a", 2L), (stream.Current.PersistenceId, stream.Current.SequenceNumber));

        // A write of its own store wakes it at once, with no time passing.
        next = stream.MoveNextAsync().AsTask();
        await WriteAsync(reader, "note|b", 1, 1, "t");
        Assert.True(await next.WaitAsync(Timeout));
        Assert.Equal(("note|b", 1L), (stream.Current.PersistenceId, stream.Current.SequenceNumber));
    }

    [Fact]
    public async Task A_read_store_opened_read_only_on_the_file_reads_what_a_journal_writes_live()
    {
        await using var writer = Open();
        await WriteAsync(writer, "note|a", 1, 2, "t");
        await using var reads = OpenReads();
        var read = new ReadJournal(reads, options: new ReadJournalOptions { PollInterval = TimeSpan.FromMilliseconds(50) });

        using var cancel = new CancellationTokenSource(Timeout);
        var byTag = new List<EventEnvelope>();
        await foreach (var envelope in read.EventsByTag("t", Offset.Start, live: true, cancel.Token))
        {
            byTag.Add(envelope);
            if (byTag.Count == 2)
            {
                await WriteAsync(writer, "note|b", 1, 2, "t");
            }

            if (byTag.Count == 4)
            {
                break;
            }
        }

        Assert.Equal([("note|a", 1L), ("note|a", 2L), ("note|b", 1L), ("note|b", 2L)], byTag.Select(e => (e.PersistenceId, e.SequenceNumber)));
        Assert.Equal(new Note("note|b 2"), byTag[^1].Event);
        Assert.Equal(["note|a", "note|b"], await read.PersistenceIds(live: false).ToListAsync());
        Assert.Equal(4, (await read.EventsBySlices("note", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync()).Count);
        Assert.Equal([1L, 2L], await read.EventsByPersistenceId("note|b", 1, long.MaxValue, live: false).Select(e => e.SequenceNumber).ToListAsync());
        Assert.Equal(2, await reads.ReadHighestSequenceNumberAsync("note|a", 0, default));
    }

    [Fact]
    public async Task A_read_only_journal_refuses_writes()
    {
        await using (Open())
        {
            // The file exists with its schema before the journal opens it read-only.
        }

        await using var readOnly = Open(readOnly: true);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await readOnly.WriteAsync([Write("note|c", 1, "t")], default));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await readOnly.DeleteToAsync("note|a", 1, default));
    }

    [Fact]
    public void A_read_only_journal_or_read_store_never_creates_a_file()
    {
        var error = Assert.Throws<SqliteStoreException>(() => Open(readOnly: true));
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        error = Assert.Throws<SqliteStoreException>(OpenReads);
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_database.Path));
    }

    [Fact]
    public async Task A_live_stream_in_this_process_sees_the_events_another_process_writes()
    {
        const int before = 5, after = 7;
        await using (Open())
        {
            // The file exists with its schema before the reader opens it read-only.
        }

        var go = Path.Combine(_database.Folder, "go");
        await using var reads = OpenReads();
        var read = new ReadJournal(reads, options: new ReadJournalOptions { PollInterval = TimeSpan.FromMilliseconds(50) });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var reading = Task.Run(async () =>
        {
            var seen = new List<EventEnvelope>();
            await foreach (var envelope in read.EventsByTag("probe", Offset.Start, live: true, cancel.Token))
            {
                seen.Add(envelope);
                if (seen.Count == before)
                {
                    // The writer waits for this before it writes the rest: those arrive while this
                    // stream is live and caught up.
                    await File.WriteAllTextAsync(go, "go");
                }

                if (seen.Count == before + after)
                {
                    return seen;
                }
            }

            return seen;
        });

        var lines = await ProbeProcess.RunAndKillAsync(
            ["tagged", _database.Path, "probe|writer", "probe", $"{before}", $"{after}", go],
            output => output.Contains($"written {before + after}"));
        var seen = await reading.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Contains($"written {before + after}", lines);
        Assert.Equal(Enumerable.Range(1, before + after).Select(n => (long)n), seen.Select(e => e.SequenceNumber));
        Assert.All(seen, e => Assert.Equal(new ProbeAdded((int)e.SequenceNumber), e.Event));
        Assert.All(seen, e => Assert.Equal(["probe"], e.Tags));
    }

    /// <summary>Q20 with a store per writer: four stores on one file write at once (SQLite's lock and the busy timeout sort them out) while streams read live.</summary>
    [Fact]
    public async Task Several_stores_writing_one_file_at_once_are_read_live_exactly_once_in_order()
    {
        const int stores = 4, writersPerStore = 2, idsPerWriter = 2, eventsPerId = 30;
        const int expected = stores * writersPerStore * idsPerWriter * eventsPerId;
        var journals = Enumerable.Range(0, stores).Select(_ => Open()).ToList();
        await using var reads = OpenReads();
        try
        {
            var options = new ReadJournalOptions { PollInterval = TimeSpan.FromMilliseconds(50), PageSize = 7 };
            using var cancel = new CancellationTokenSource(Timeout * 2);
            var readers = new[] { new ReadJournal(reads, options: options), new ReadJournal(journals[0].Reads, options: options) }
                .Select(read => Task.Run(async () =>
                {
                    var seen = new List<EventEnvelope>();
                    await foreach (var envelope in read.EventsByTag("q20", Offset.Start, live: true, cancel.Token))
                    {
                        seen.Add(envelope);
                        if (seen.Count == expected)
                        {
                            break;
                        }
                    }

                    return seen;
                }))
                .ToList();

            var writing = journals.SelectMany((journal, store) => Enumerable.Range(0, writersPerStore).Select(writer => Task.Run(async () =>
            {
                for (var sequenceNumber = 1; sequenceNumber <= eventsPerId; sequenceNumber += 2)
                {
                    for (var id = 0; id < idsPerWriter; id++)
                    {
                        await WriteAsync(journal, $"q20|s{store}-w{writer}-{id}", sequenceNumber, sequenceNumber + 1, "q20");
                    }
                }
            })));
            await Task.WhenAll(writing);

            foreach (var seen in await Task.WhenAll(readers))
            {
                Assert.Equal(expected, seen.Count);
                Assert.Equal(expected, seen.Select(e => (e.PersistenceId, e.SequenceNumber)).Distinct().Count());
                foreach (var history in seen.GroupBy(e => e.PersistenceId))
                {
                    Assert.Equal(Enumerable.Range(1, eventsPerId).Select(n => (long)n), history.Select(e => e.SequenceNumber));
                }

                for (var i = 1; i < seen.Count; i++)
                {
                    Assert.True(seen[i - 1].Offset < seen[i].Offset, $"offset {seen[i].Offset} after {seen[i - 1].Offset}");
                }
            }
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
    public async Task A_paused_consumer_holds_no_read_transaction_so_the_log_can_be_checkpointed()
    {
        await using var journal = Open();
        await WriteAsync(journal, "note|a", 1, 20, "t");
        var read = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PageSize = 5 });

        await using var stream = read.EventsByTag("t", Offset.Start, live: false).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());

        // The consumer is in the middle of a page; the writer goes on. A reader still inside a
        // transaction would pin the log: a truncating checkpoint could not complete.
        await WriteAsync(journal, "note|b", 1, 10, "t");
        using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 0; PRAGMA wal_checkpoint(TRUNCATE);";
            using var result = command.ExecuteReader();
            Assert.True(result.Read());
            Assert.Equal(0L, result.GetInt64(0));
        }

        var rest = 0;
        while (await stream.MoveNextAsync())
        {
            rest++;
        }

        Assert.Equal(19, rest);
    }

    [Fact]
    public async Task Events_by_slices_page_correctly_through_sparse_and_dense_entity_types()
    {
        // 2,000 events of "common" ids with an event of a "rare" id after every 100th: reading the
        // rare ones takes many windows, reading the common ones many pages.
        await using var journal = Open();
        var batch = new List<AtomicWrite>();
        var rare = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < 2000; i++)
        {
            batch.Add(Write($"common|c{i % 50}", (i / 50) + 1, null));
            if (i % 100 == 99)
            {
                var id = $"rare|r{i / 100 % 3}";
                rare[id] = rare.GetValueOrDefault(id) + 1;
                batch.Add(Write(id, rare[id], null));
            }

            if (batch.Count >= 250)
            {
                Assert.All(await journal.WriteAsync(batch, default), Assert.Null);
                batch.Clear();
            }
        }

        Assert.All(await journal.WriteAsync(batch, default), Assert.Null);

        var small = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PageSize = 4 });
        var rares = await small.EventsBySlices("rare", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync();
        Assert.Equal(20, rares.Count);
        AssertIncreasing(rares);
        Assert.All(rares, e => Assert.Equal(new Note($"{e.PersistenceId} {e.SequenceNumber}"), e.Event));
        foreach (var group in rares.GroupBy(e => e.PersistenceId))
        {
            Assert.Equal(Enumerable.Range(1, group.Count()).Select(n => (long)n), group.Select(e => e.SequenceNumber));
        }

        var slice = Slices.Of("rare|r1");
        Assert.Equal(
            rares.Where(e => Slices.Of(e.PersistenceId) == slice).Select(e => e.Offset),
            (await small.EventsBySlices("rare", slice, slice, Offset.Start, live: false).ToListAsync()).Select(e => e.Offset));
        Assert.Equal(rares.Skip(7).Select(e => e.Offset), (await small.EventsBySlices("rare", 0, Slices.Count - 1, rares[6].Offset, live: false).ToListAsync()).Select(e => e.Offset));

        var read = new ReadJournal(journal.Reads, options: new ReadJournalOptions { PageSize = 64 });
        var commons = await read.EventsBySlices("common", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync();
        Assert.Equal(2000, commons.Count);
        AssertIncreasing(commons);
        var halves = new List<EventEnvelope>();
        foreach (var (min, max) in Slices.Ranges(2))
        {
            halves.AddRange(await read.EventsBySlices("common", min, max, Offset.Start, live: false).ToListAsync());
        }

        Assert.Equal(commons.Select(e => e.Offset).Order(), halves.Select(e => e.Offset).Order());
    }

    private SqliteJournal Open(bool readOnly = false) =>
        new(new SqliteStoreOptions { Path = _database.Path, ReadOnly = readOnly }, Serialization());

    /// <summary>A read store of its own on the file, read-only, as a process that only reads opens it.</summary>
    private SqliteReadJournalStore OpenReads() => new(new SqliteStoreOptions { Path = _database.Path, ReadOnly = true }, Serialization());

    private static EventSerialization Serialization() =>
        new(new EventTypeRegistry().Register<Note>().Register<ProbeAdded>(), new JsonEventSerializer());

    private static AtomicWrite Write(string id, long sequenceNumber, string? tag) =>
        new(new PersistentRepr(id, sequenceNumber, new Note($"{id} {sequenceNumber}"))
        {
            WriterId = "test",
            Timestamp = DateTimeOffset.UtcNow,
            Tags = tag is null ? [] : [tag],
        });

    private static async Task WriteAsync(SqliteJournal journal, string id, long from, long to, string tag)
    {
        var events = new List<PersistentRepr>();
        for (var sequenceNumber = from; sequenceNumber <= to; sequenceNumber++)
        {
            events.Add(Write(id, sequenceNumber, tag).Events[0]);
        }

        var results = await journal.WriteAsync([new AtomicWrite(events)], default);
        Assert.Null(results[0]);
    }

    private static void AssertIncreasing(List<EventEnvelope> envelopes)
    {
        for (var i = 1; i < envelopes.Count; i++)
        {
            Assert.True(envelopes[i - 1].Offset < envelopes[i].Offset, $"offset {envelopes[i].Offset} after {envelopes[i - 1].Offset}");
        }
    }

}
