using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite.Tests;

public sealed class SharedFileTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Two_stores_on_one_file_write_at_the_same_time_and_both_histories_are_complete()
    {
        var serialization = new EventSerialization();
        await using var first = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization);
        await using var second = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, serialization);

        await Task.WhenAll(WriteAsync(first, "first", 300), WriteAsync(second, "second", 300));

        foreach (var (journal, id) in new[] { (first, "second"), (second, "first") })
        {
            var numbers = new List<long>();
            await foreach (var repr in journal.ReplayAsync(id, 1, long.MaxValue, long.MaxValue, CancellationToken.None))
            {
                numbers.Add(repr.SequenceNumber);
                Assert.Equal($"{id}-{repr.SequenceNumber}", repr.Payload);
            }

            Assert.Equal(Enumerable.Range(1, 300).Select(n => (long)n), numbers);
        }
    }

    private static async Task WriteAsync(SqliteJournal journal, string id, int count)
    {
        for (var n = 1; n <= count; n += 10)
        {
            var writes = Enumerable.Range(n, 10)
                .Select(s => new AtomicWrite(new PersistentRepr(id, s, $"{id}-{s}") { WriterId = id, Timestamp = DateTimeOffset.UtcNow }))
                .ToList();
            var results = await journal.WriteAsync(writes, CancellationToken.None);
            Assert.All(results, Assert.Null);
        }
    }
}
