using Npgsql;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
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
        Assert.Equal(10L, await ScalarAsync($"SELECT count(*) FROM pg_tables WHERE schemaname = '{_schema}'"));
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
        var database = new Npgsql.NpgsqlConnectionStringBuilder(PostgresServer.ConnectionString).Database;
        Assert.Contains($"schema '{_schema}' of database '{database}'", error.Message, StringComparison.Ordinal);
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

    [Fact]
    public async Task A_version_1_schema_is_upgraded_in_one_transaction_and_its_events_are_read_by_tag_and_slices()
    {
        // More persistence ids than one upgrade batch, so that the fill runs in several batches.
        const int ids = PostgreSqlSchema.UpgradeBatchSize + 234;
        await PostgresServer.ExecuteAsync(Version1Script(_schema));
        await PostgresServer.ExecuteAsync($$"""
            INSERT INTO "{{_schema}}".journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags)
            SELECT CASE WHEN n % 3 = 0 THEN 'plain-' || n ELSE 'shop|' || n END, s, 'w', now(), 'test.note.v1',
                   convert_to('{"Text":"' || n || '-' || s || '"}', 'UTF8'),
                   CASE WHEN s = 2 THEN ARRAY['two', 'even'] WHEN s % 2 = 0 THEN ARRAY['even'] ELSE ARRAY[]::text[] END
            FROM generate_series(1, {{ids}}) n CROSS JOIN generate_series(1, 3) s ORDER BY s, n;
            INSERT INTO "{{_schema}}".journal_highest VALUES ('gone', 7);
            """);

        // Several processes start at once: one upgrades, the others wait and find the current version.
        var options = PostgresServer.Options(_schema);
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => PostgreSqlSchema.CreateAsync(options)));

        Assert.Equal([1, 2, 3, 4], await ColumnAsync($"SELECT version FROM \"{_schema}\".recall_schema ORDER BY version", r => r.GetInt32(0)));
        var rows = await ColumnAsync($"SELECT DISTINCT persistence_id, entity_type, slice FROM \"{_schema}\".journal", r => (Id: r.GetString(0), EntityType: r.GetString(1), Slice: r.GetInt32(2)));
        Assert.Equal(ids, rows.Count);
        Assert.All(rows, row => Assert.Equal((Slices.EntityTypeOf(row.Id), Slices.Of(row.Id)), (row.EntityType, row.Slice)));
        Assert.Contains(rows, row => row.EntityType == "shop");
        Assert.Equal(
            ["journal_ordering_idx", "journal_pkey", "journal_slices_idx", "journal_transaction_idx"],
            await ColumnAsync($"SELECT indexname FROM pg_indexes WHERE schemaname = '{_schema}' AND tablename = 'journal' ORDER BY indexname", r => r.GetString(0)));
        Assert.Equal([("even", (long)ids), ("two", (long)ids)], await ColumnAsync($"SELECT tag, count(*) FROM \"{_schema}\".journal_tags GROUP BY tag ORDER BY tag", r => (r.GetString(0), r.GetInt64(1))));

        // The old events read by tag (in the order they were written) and by slices; new ones follow.
        await using var journal = new PostgreSqlJournal(options, Serialization());
        var read = new ReadJournal(journal.Reads);
        var two = await read.EventsByTag("two", Offset.Start, live: false).ToListAsync();
        Assert.Equal(Enumerable.Range(1, ids).Select(n => (n % 3 == 0 ? $"plain-{n}" : $"shop|{n}", 2L)), two.Select(e => (e.PersistenceId, e.SequenceNumber)));
        Assert.Equal(new Note("5-2"), two[4].Event);
        Assert.Equal(ids - (ids / 3), (await read.EventsBySlices("shop", 0, Slices.Count - 1, Offset.Start, live: false).ToListAsync()).Count / 3);

        await journal.WriteAsync([new AtomicWrite(new PersistentRepr("shop|new", 1, new Note("new")) { Tags = ["two"] })], default);
        var after = await read.EventsByTag("two", two[^1].Offset, live: false).ToListAsync();
        Assert.Equal(["shop|new"], after.Select(e => e.PersistenceId));
        Assert.Contains("gone", await read.PersistenceIds(live: false).ToListAsync());
    }

    [Fact]
    public async Task A_version_1_schema_is_left_untouched_when_the_store_may_not_change_it()
    {
        await PostgresServer.ExecuteAsync(Version1Script(_schema));
        var options = PostgresServer.Options(_schema);
        options.CreateSchemaIfMissing = false;
        await using var journal = new PostgreSqlJournal(options, Serialization());

        var error = await Assert.ThrowsAsync<PostgreSqlStoreException>(async () => await journal.ReadHighestSequenceNumberAsync("a", 0, default));
        Assert.Contains("version 1", error.Message, StringComparison.Ordinal);
        Assert.Contains("PostgreSqlSchema.CreateAsync", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync($"SELECT max(version) FROM \"{_schema}\".recall_schema"));
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM information_schema.columns WHERE table_schema = '{_schema}' AND column_name = 'slice'"));
    }

    /// <summary>The tables as version 1 created them (kept verbatim: the upgrade starts from exactly this).</summary>
    private static string Version1Script(string schema) => $"""
        CREATE SCHEMA IF NOT EXISTS "{schema}";

        CREATE TABLE "{schema}".recall_schema (
            version      integer     NOT NULL,
            installed_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE "{schema}".journal (
            ordering        bigint      GENERATED ALWAYS AS IDENTITY,
            persistence_id  text        COLLATE "C" NOT NULL,
            sequence_number bigint      NOT NULL,
            writer_id       text        NOT NULL,
            timestamp       timestamptz NOT NULL,
            manifest        text        NOT NULL,
            payload         bytea       NOT NULL,
            tags            text[]      NOT NULL DEFAULT ARRAY[]::text[],
            transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
            PRIMARY KEY (persistence_id, sequence_number)
        );
        CREATE UNIQUE INDEX journal_ordering_idx ON "{schema}".journal (ordering);
        CREATE INDEX journal_transaction_idx ON "{schema}".journal (transaction_id, ordering);
        CREATE INDEX journal_tags_idx ON "{schema}".journal USING gin (tags);

        CREATE TABLE "{schema}".journal_highest (
            persistence_id  text   COLLATE "C" PRIMARY KEY,
            sequence_number bigint NOT NULL
        );

        CREATE TABLE "{schema}".snapshots (
            persistence_id  text        COLLATE "C" NOT NULL,
            sequence_number bigint      NOT NULL,
            timestamp       timestamptz NOT NULL,
            manifest        text        NOT NULL,
            payload         bytea       NOT NULL,
            PRIMARY KEY (persistence_id, sequence_number)
        );

        INSERT INTO "{schema}".recall_schema (version) VALUES (1);
        """;

    private static async Task<List<T>> ColumnAsync<T>(string sql, Func<NpgsqlDataReader, T> map)
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
