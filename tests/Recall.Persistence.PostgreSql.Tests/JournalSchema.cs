using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>A schema of one test's own and the journals the test opened in it: all disposed, and the schema dropped, after the test.</summary>
internal sealed class JournalSchema(string purpose) : IAsyncDisposable
{
    private readonly List<PostgreSqlJournal> _journals = [];

    /// <summary>The schema's name.</summary>
    public string Name { get; } = PostgresServer.NewSchema(purpose);

    /// <summary>Opens a journal in the schema (thread-safe: tests open them from several tasks).</summary>
    public PostgreSqlJournal NewJournal(EventSerialization serialization, Action<PostgreSqlStoreOptions>? configure = null)
    {
        var options = PostgresServer.Options(Name);
        configure?.Invoke(options);
        var journal = new PostgreSqlJournal(options, serialization);
        lock (_journals)
        {
            _journals.Add(journal);
        }

        return journal;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var journal in _journals)
        {
            await journal.DisposeAsync();
        }

        await PostgresServer.DropSchemaAsync(Name);
    }
}
