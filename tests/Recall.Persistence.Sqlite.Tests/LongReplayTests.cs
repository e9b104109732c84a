using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

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

    private static async Task WriteAsync(SqliteJournal journal, string persistenceId, int events)
    {
        for (var first = 1; first <= events; first += 500)
        {
            var batch = Enumerable.Range(first, Math.Min(500, events - first + 1))
                .Select(n => new AtomicWrite(new PersistentRepr(persistenceId, n, new Filler(new string('x', 200))) { Timestamp = DateTimeOffset.UtcNow }))
                .ToList();
            Assert.All(await journal.WriteAsync(batch, default), Assert.Null);
        }
    }
}

public sealed record Filler(string Text);
