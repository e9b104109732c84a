using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>A schema of one test's own and the journals and read stores the test opened in it: all disposed, and the schema dropped, after the test.</summary>
internal sealed class JournalSchema(string purpose) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _stores = [];

    /// <summary>The schema's name.</summary>
    public string Name { get; } = PostgresServer.NewSchema(purpose);

    /// <summary>Opens a journal in the schema (thread-safe: tests open them from several tasks).</summary>
    public PostgreSqlJournal NewJournal(EventSerialization serialization, Action<PostgreSqlStoreOptions>? configure = null)
    {
        var options = PostgresServer.Options(Name);
        configure?.Invoke(options);
        return Add(new PostgreSqlJournal(options, serialization));
    }

    /// <summary>Opens a read store of its own in the schema, as a process that only reads does.</summary>
    public PostgreSqlReadJournalStore NewReads(EventSerialization serialization) =>
        Add(new PostgreSqlReadJournalStore(PostgresServer.Options(Name), serialization));

    public async ValueTask DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await PostgresServer.DropSchemaAsync(Name);
    }

    private T Add<T>(T store)
        where T : IAsyncDisposable
    {
        lock (_stores)
        {
            _stores.Add(store);
        }

        return store;
    }
}
