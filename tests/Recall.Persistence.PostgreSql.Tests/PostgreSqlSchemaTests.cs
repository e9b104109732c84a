using Npgsql;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>The schema: created on first use or ahead, versioned, and errors that name what is wrong.</summary>
[RequiresPostgres]
public sealed class PostgreSqlSchemaTests : IAsyncLifetime
{
    private readonly string _schema = PostgresServer.NewSchema("schema");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => PostgresServer.DropSchemaAsync(_schema);

    [Fact]
    public async Task CreateAsync_creates_the_tables_once_even_when_called_concurrently()
    {
        var options = PostgresServer.Options(_schema);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostgreSqlSchema.CreateAsync(options)));
        await PostgreSqlSchema.CreateAsync(options);

        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM \"{_schema}\".recall_schema"));
        Assert.Equal(PostgreSqlSchema.Version, await ScalarAsync($"SELECT version FROM \"{_schema}\".recall_schema"));
        Assert.Equal(5L, await ScalarAsync($"SELECT count(*) FROM pg_tables WHERE schemaname = '{_schema}'"));
    }

    [Fact]
    public async Task The_store_creates_the_schema_on_first_use()
    {
        await using var journal = new PostgreSqlJournal(PostgresServer.Options(_schema), Serialization());
        Assert.Equal(0, await journal.ReadHighestSequenceNumberAsync("nobody", 0, default));
        Assert.Equal(PostgreSqlSchema.Version, await ScalarAsync($"SELECT version FROM \"{_schema}\".recall_schema"));
    }

    [Fact]
    public async Task A_missing_schema_is_an_error_naming_it_when_the_store_may_not_create_it()
    {
        var options = PostgresServer.Options(_schema);
        options.CreateSchemaIfMissing = false;
        await using var journal = new PostgreSqlJournal(options, Serialization());

        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(async () => await journal.ReadHighestSequenceNumberAsync("a", 0, default));
        Assert.Contains($"schema '{_schema}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgreSqlSchema.CreateAsync", error.Message, StringComparison.Ordinal);
        Assert.Null(await ScalarAsync($"SELECT to_regnamespace('{_schema}')::text"));
    }

    [Fact]
    public async Task A_newer_schema_version_is_refused_with_a_clear_error_and_left_untouched()
    {
        var options = PostgresServer.Options(_schema);
        await PostgreSqlSchema.CreateAsync(options);
        await PostgresServer.ExecuteAsync($"INSERT INTO \"{_schema}\".recall_schema (version) VALUES ({PostgreSqlSchema.Version + 1})");

        await using var journal = new PostgreSqlJournal(options, Serialization());
        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(async () =>
            await journal.WriteAsync([new AtomicWrite(new PersistentRepr("a", 1, new Note("event")))], default));
        Assert.Contains($"schema '{_schema}' of database 'recall_tests'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"version {PostgreSqlSchema.Version + 1}", error.Message, StringComparison.Ordinal);
        Assert.Contains("newer Recall", error.Message, StringComparison.Ordinal);

        var again = await Assert.ThrowsAsync<PostgreSqlStoreException>(() => PostgreSqlSchema.CreateAsync(options));
        Assert.Contains("newer Recall", again.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM \"{_schema}\".journal"));
    }

    [Fact]
    public async Task A_schema_with_another_applications_journal_table_is_refused()
    {
        await PostgresServer.ExecuteAsync($"CREATE SCHEMA \"{_schema}\"; CREATE TABLE \"{_schema}\".journal (id int)");

        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(() => PostgreSqlSchema.CreateAsync(PostgresServer.Options(_schema)));
        Assert.Contains("another application", error.Message, StringComparison.Ordinal);
        Assert.Contains($"schema '{_schema}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_database_is_an_error_naming_it_and_the_server()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresServer.Required) { Database = "recall_no_such_database" };
        await using var journal = new PostgreSqlJournal(new PostgreSqlStoreOptions { ConnectionString = builder.ConnectionString, Schema = _schema }, Serialization());

        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(async () => await journal.ReadHighestSequenceNumberAsync("a", 0, default));
        Assert.Contains("database 'recall_no_such_database'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{builder.Host}:{builder.Port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_is_an_error_naming_host_and_port()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresServer.Required) { Host = "127.0.0.1", Port = 1, Timeout = 3 };
        await using var journal = new PostgreSqlJournal(new PostgreSqlStoreOptions { ConnectionString = builder.ConnectionString, Schema = _schema }, Serialization());

        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(async () =>
            await journal.WriteAsync([new AtomicWrite(new PersistentRepr("a", 1, new Note("event")))], default));
        Assert.Contains("127.0.0.1:1", error.Message, StringComparison.Ordinal);
        Assert.Contains("cannot connect", error.Message, StringComparison.Ordinal);
    }

    private static EventSerialization Serialization()
    {
        var serialization = new EventSerialization();
        serialization.Registry.Register<Note>("test.note.v1");
        return serialization;
    }

    public sealed record Note(string Text);

    private static async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }
}

/// <summary>Settings are checked before anything connects; these need no server.</summary>
public sealed class PostgreSqlStoreOptionsTests
{
    [Theory]
    [InlineData("", "is empty")]
    [InlineData("Database=shop", "has no Host")]
    [InlineData("Host=db;Frobnicate=1", "not a valid Npgsql connection string")]
    public void A_bad_connection_string_is_refused_with_the_reason(string connectionString, string reason)
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new PersistenceOptions().UsePostgreSql(connectionString));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1abc")]
    [InlineData("my-schema")]
    [InlineData("a\"b")]
    [InlineData("")]
    public void A_bad_schema_name_is_refused_naming_it(string schema)
    {
        var error = Assert.Throws<ArgumentException>(() => new PersistenceOptions().UsePostgreSql(o =>
        {
            o.ConnectionString = "Host=localhost";
            o.Schema = schema;
        }));
        Assert.Contains($"Schema '{schema}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_create_script_quotes_the_schema_and_records_the_version()
    {
        var script = PostgreSqlSchema.GetCreateScript("Shop_Events");
        Assert.Contains("CREATE TABLE \"Shop_Events\".journal", script, StringComparison.Ordinal);
        Assert.Contains($"INSERT INTO \"Shop_Events\".recall_schema (version) VALUES ({PostgreSqlSchema.Version})", script, StringComparison.Ordinal);
    }
}
