using Npgsql;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.PostgreSql.Tests;
using Recall.Persistence.Query;
using Recall.Projections;
using Recall.Projections.PostgreSql;
using Recall.Samples.Wallet;
using Recall.TestKit;

namespace Recall.Cli.Tests;

/// <summary><c>recall projections --postgres</c> and <c>recall postgres init</c> on a real server.</summary>
[RequiresPostgres]
public sealed class PostgreSqlProjectionsAndInitTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
    private readonly string _schema = PostgresServer.NewSchema("cliproj");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => PostgresServer.DropSchemaAsync(_schema);

    [Fact]
    public async Task Projections_lists_the_offsets_of_the_schema_with_their_lag_behind_its_journal()
    {
        await using (var system = ActorSystem.Create("cli-tests", o => o.UsePersistence(p =>
        {
            p.UsePostgreSql(s =>
            {
                s.ConnectionString = PostgresServer.Required;
                s.Schema = _schema;
                s.MaxReadConnections = 1;
                s.MaxWriteConnections = 1;
            }).Events.RegisterAssemblyOf<Wallet>();
            p.Adapters.AddWrite<BalanceChangedBy>(new TagAll("wallet"));
        })))
        {
            var alice = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
            alice.Tell(new TakeMy(10), null);
            Assert.Equal(new TakeMy(3), await alice.Ask<TakeMy>(new GiveMe(3), Timeout));
            var bob = system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
            bob.Tell(new TakeMy(5), null);
            Assert.Equal(5, await bob.Ask<int>(new GetBalance(), Timeout));
        }

        // The offsets of the journal's three events, in the read side's order.
        var events = new List<(Offset Offset, DateTimeOffset Timestamp)>();
        await using (var connection = await PostgresServer.OpenAsync())
        await using (var command = new NpgsqlCommand($"SELECT transaction_id::text::bigint, ordering, timestamp FROM \"{_schema}\".journal ORDER BY transaction_id, ordering", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                events.Add((new Offset(reader.GetInt64(0), reader.GetInt64(1)), reader.GetFieldValue<DateTimeOffset>(2)));
            }
        }

        Assert.Equal(3, events.Count);
        var offsets = new PostgreSqlProjectionOffsetStore(new PostgreSqlProjectionDatabase(PostgresServer.Required) { Schema = _schema });
        await offsets.SaveOffsetAsync(new ProjectionId("balances", "wallet"), events[0].Offset, events[2].Timestamp - TimeSpan.FromSeconds(90.5), default);
        await offsets.SaveOffsetAsync(new ProjectionId("everything", ":0-1023"), events[2].Offset, events[2].Timestamp, default);
        await offsets.SaveStateAsync(new ProjectionId("everything", ":0-1023"), ProjectionState.Failed, "TimeoutException: the read model did not answer", default);

        var result = await Cli.RunAsync("projections", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(result.ExitCode == 0, result.Error);
        var first = $"{events[0].Offset.Transaction}/{events[0].Offset.Ordering}";
        Assert.Matches($@"balances\s*│\s*wallet\s*│\s*running\s*│\s*{first}\s*│[^│]+│\s*2\s*│\s*1m 30s\s*│", result.Output);
        Assert.Matches(@"everything\s*│\s*:0-1023\s*│\s*failed\s*│[^│]+│[^│]+│\s*0\s*│\s*0s\s*│[^│]+│\s*TimeoutException: the read model did not answer", result.Output);
    }

    [Fact]
    public async Task Projections_of_a_schema_without_an_offsets_table_says_so_and_creates_nothing()
    {
        var result = await Cli.RunAsync("projections", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"no projections in schema '{_schema}'", result.Output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.False(await SchemaExistsAsync());
    }

    [Fact]
    public async Task Init_creates_the_tables_of_a_fresh_schema_and_again_changes_nothing()
    {
        var created = await Cli.RunAsync("postgres", "init", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(created.ExitCode == 0, created.Error);
        Assert.Contains($"created the Recall tables (schema version {PostgreSqlSchema.Version})", created.Output, StringComparison.Ordinal);
        Assert.Equal(PostgreSqlSchema.Version, await VersionAsync());

        var again = await Cli.RunAsync("postgres", "init", PostgresServer.Required, "--schema", _schema);

        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains($"already at Recall schema version {PostgreSqlSchema.Version}; nothing changed", again.Output.Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(1L, await ScalarAsync($"SELECT count(*) FROM \"{_schema}\".recall_schema"));

        // A store that must not create anything accepts the schema init made.
        await using var system = ActorSystem.Create("cli-init", o => o.UsePersistence(p => p.UsePostgreSql(s =>
        {
            s.ConnectionString = PostgresServer.Required;
            s.Schema = _schema;
            s.CreateSchemaIfMissing = false;
        }).Events.RegisterAssemblyOf<Wallet>()));
        var bob = system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
        bob.Tell(new TakeMy(5), null);
        Assert.Equal(5, await bob.Ask<int>(new GetBalance(), Timeout));
    }

    [Fact]
    public async Task Init_of_a_schema_of_a_newer_version_is_one_error_line_and_changes_nothing()
    {
        await PostgresServer.ExecuteAsync($"CREATE SCHEMA \"{_schema}\"; CREATE TABLE \"{_schema}\".recall_schema (version integer NOT NULL); INSERT INTO \"{_schema}\".recall_schema VALUES (99)");

        var result = await Cli.RunAsync("postgres", "init", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("newer Recall", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{_schema}' AND c.relname = 'journal'"));
    }

    [Fact]
    public async Task Init_script_prints_the_sql_and_connects_nowhere()
    {
        var result = await Cli.RunAsync("postgres", "init", "--script", "--schema", _schema);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains($"CREATE TABLE \"{_schema}\".journal (", result.Output, StringComparison.Ordinal);
        Assert.Contains($"CREATE TABLE \"{_schema}\".recall_schema (", result.Output, StringComparison.Ordinal);
        Assert.False(await SchemaExistsAsync());
    }

    private async Task<bool> SchemaExistsAsync() =>
        (long)(await ScalarAsync($"SELECT count(*) FROM pg_namespace WHERE nspname = '{_schema}'"))! == 1;

    private async Task<int?> VersionAsync() => (int?)await ScalarAsync($"SELECT max(version) FROM \"{_schema}\".recall_schema");

    private static async Task<object?> ScalarAsync(string sql)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
