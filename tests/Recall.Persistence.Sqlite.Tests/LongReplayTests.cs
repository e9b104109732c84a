using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>A long history replays in pages: it does not pin the write-ahead log while other actors write.</summary>
public sealed class LongReplayTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task A_replay_paused_midway_lets_the_log_be_checkpointed_while_others_write()
    {
        var serialization = new EventSerialization();
        serialization.Registry.Register<Filler>("test.filler.v1");
        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization);
        const int history = 20_000;
        await WriteAsync(journal, "long", history);

        // The recovering actor has taken the first events and is busy applying them.
        await using var replay = journal.ReplayAsync("long", 1, long.MaxValue, long.MaxValue, default).GetAsyncEnumerator();
        Assert.True(await replay.MoveNextAsync());

        // Meanwhile other actors write: SQLite checkpoints every ~4 MB of log, and starts the log
        // over only when no reader still looks at an older state of the file.
        var wal = _database.Path + "-wal";
        long largest = 0;
        for (var round = 0; round < 80; round++)
        {
            await WriteAsync(journal, "other-" + round, 1_000);
            largest = Math.Max(largest, new FileInfo(wal).Length);
        }

        Assert.True(largest < 16 * 1024 * 1024, $"the log grew to {largest / 1024 / 1024} MiB while the replay was paused: it pinned the log");

        // The replay goes on, and gets every event once, in order.
        var expected = 1L;
        do
        {
            Assert.Equal(expected++, replay.Current.SequenceNumber);
        }
        while (await replay.MoveNextAsync());

        Assert.Equal(history + 1, expected);
    }

    [Fact]
    public async Task A_million_event_history_recovers_while_another_actor_writes_and_leaves_the_log_free_to_start_over()
    {
        const int history = 1_000_000;
        var serialization = new EventSerialization();
        serialization.Registry.Register<Filler>("test.filler.v1");
        await using (var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization))
        {
            await WriteAsync(journal, "long", history, text: "");
        }

        await using var system = ActorSystem.Create("long-replay", o => o.UsePersistence(p => p
            .UseSqlite(_database.Path)
            .Events.Register<Filler>("test.filler.v1")));
        var writer = system.Spawn(Props.Create(() => new BulkWriter("busy")));
        Assert.Equal(0L, await writer.Ask<long>(0, s_patience)); // recovered, and the store is open

        // Another actor writes batches of 500 events for as long as the long recovery runs.
        var wal = _database.Path + "-wal";
        using var recovered = new CancellationTokenSource();
        long largest = 0, written = 0;
        var writing = Task.Run(async () =>
        {
            while (!recovered.IsCancellationRequested)
            {
                written = await writer.Ask<long>(500, s_patience);
                largest = Math.Max(largest, new FileInfo(wal).Length);
            }
        });

        var counter = system.Spawn(Props.Create(() => new Counter("long")));
        var count = await counter.Ask<long>("count", s_patience);
        await recovered.CancelAsync();
        await writing;

        Assert.Equal(history, count);
        Assert.True(written >= 500, "the other actor wrote nothing while the history was replayed");

        // Readers and a writer at work together keep the log growing while the replay runs; once it
        // is over, no read of it is left open: a checkpoint copies the whole log back...
        await using (var checkpoint = await _database.OpenConnectionAsync())
        {
            await using var command = checkpoint.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
            await using var result = await command.ExecuteReaderAsync();
            Assert.True(await result.ReadAsync());
            Assert.True(result.GetInt64(1) == result.GetInt64(2), $"{result.GetInt64(2)} of {result.GetInt64(1)} log frames could be checkpointed: a reader still holds the log (it grew to {largest / 1024 / 1024} MiB)");
        }

        // ...and the log starts over and is cut back to the limit with the next writes.
        for (var round = 0; new FileInfo(wal).Length > SqliteDatabase.WalSizeLimit; round++)
        {
            Assert.True(round < 100, $"the log is still {new FileInfo(wal).Length / 1024 / 1024} MiB after {round} rounds of writes");
            await writer.Ask<long>(10, s_patience);
        }
    }

    [Fact]
    public async Task A_log_grown_while_a_reader_held_it_is_cut_back_once_it_starts_over()
    {
        var serialization = new EventSerialization();
        serialization.Registry.Register<Filler>("test.filler.v1");
        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization);
        await WriteAsync(journal, "first", 10);
        var wal = _database.Path + "-wal";

        // A reader (another tool, a backup) holds a read transaction: checkpoints cannot start the log over.
        await using (var reader = await _database.OpenConnectionAsync())
        {
            await using var read = reader.CreateCommand();
            read.CommandText = "BEGIN; SELECT count(*) FROM journal;";
            await read.ExecuteScalarAsync();
            await WriteAsync(journal, "grown", 100_000);
            Assert.True(new FileInfo(wal).Length > SqliteDatabase.WalSizeLimit, "the log did not grow past the limit: the test proves nothing");
        }

        // The reader is gone: after a checkpoint the log starts over and is cut back to the limit.
        for (var round = 0; new FileInfo(wal).Length > SqliteDatabase.WalSizeLimit; round++)
        {
            Assert.True(round < 100, $"the log is still {new FileInfo(wal).Length / 1024 / 1024} MiB after {round} rounds of writes");
            await WriteAsync(journal, "after-" + round, 500);
        }
    }

    private static readonly TimeSpan s_patience = TestKitSettings.Dilated(TimeSpan.FromSeconds(120));

    private static async Task WriteAsync(SqliteJournal journal, string persistenceId, int events, string? text = null)
    {
        for (var first = 1; first <= events; first += 500)
        {
            var batch = Enumerable.Range(first, Math.Min(500, events - first + 1))
                .Select(n => new AtomicWrite(new PersistentRepr(persistenceId, n, new Filler(text ?? new string('x', 200))) { Timestamp = DateTimeOffset.UtcNow }))
                .ToList();
            Assert.All(await journal.WriteAsync(batch, default), Assert.Null);
        }
    }
}

public sealed record Filler(string Text);

/// <summary>Persists the number of fillers it is asked for (1,000 characters each) with PersistAll, and replies with its last sequence number.</summary>
internal sealed class BulkWriter(string persistenceId) : PersistentActor
{
    public override string PersistenceId => persistenceId;

    protected override void ReceiveCommand(object command)
    {
        if (command is not int count)
        {
            Unhandled(command);
            return;
        }

        if (count == 0)
        {
            Sender.Tell(LastSequenceNumber);
            return;
        }

        var sender = Sender;
        var left = count;
        PersistAll(Enumerable.Range(0, count).Select(_ => new Filler(new string('y', 1000))), _ =>
        {
            if (--left == 0)
            {
                sender.Tell(LastSequenceNumber);
            }
        });
    }

    protected override void ReceiveRecover(object message)
    {
    }
}

/// <summary>Counts the events it recovers, and replies with the count.</summary>
internal sealed class Counter(string persistenceId) : PersistentActor
{
    private long _count;

    public override string PersistenceId => persistenceId;

    protected override void ReceiveCommand(object command) => Sender.Tell(_count);

    protected override void ReceiveRecover(object message)
    {
        if (message is Filler)
        {
            _count++;
        }
    }
}
