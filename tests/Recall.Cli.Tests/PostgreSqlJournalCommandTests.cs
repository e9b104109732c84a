using Npgsql;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.PostgreSql.Tests;
using Recall.Samples.Wallet;
using Recall.TestKit;

namespace Recall.Cli.Tests;

/// <summary><c>recall journal ... --postgres CONNECTION --schema SCHEMA</c> on a journal the PostgreSQL store wrote.</summary>
[RequiresPostgres]
public sealed class PostgreSqlJournalCommandTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
    private readonly string _schema = PostgresServer.NewSchema("cli");

    public async Task InitializeAsync()
    {
        await using var system = ActorSystem.Create("cli-tests", o => o.UsePersistence(p => p
            .UsePostgreSql(s =>
            {
                s.ConnectionString = PostgresServer.Required;
                s.Schema = _schema;
                s.MaxReadConnections = 2;
                s.MaxWriteConnections = 1;
            })
            .Events.RegisterAssemblyOf<Wallet>()));
        var alice = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
        alice.Tell(new TakeMy(10), null);
        Assert.Equal(new TakeMy(3), await alice.Ask<TakeMy>(new GiveMe(3), Timeout));
        var bob = system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
        bob.Tell(new TakeMy(5), null);
        Assert.Equal(5, await bob.Ask<int>(new GetBalance(), Timeout));
    }

    public Task DisposeAsync() => PostgresServer.DropSchemaAsync(_schema);

    [Fact]
    public async Task Cluster_members_and_leases_read_the_schema()
    {
        var options = PostgresServer.Options(_schema);
        await using (var members = new PostgreSqlMembershipStore(options))
        await using (var leases = new PostgreSqlLeaseStore(options))
        {
            await members.TryJoinAsync("recall://shop@10.0.0.5:7400", 42, ["web"], TimeSpan.FromMinutes(10), default);
            await members.SetStatusAsync("recall://shop@10.0.0.5:7400", 42, Persistence.Membership.MemberStatus.Up, default);
            await leases.TryAcquireAsync("singleton:ledger", "recall://shop@10.0.0.5:7400#42", TimeSpan.FromMinutes(10), default);
        }

        var listed = await Cli.RunAsync("cluster", "members", "--postgres", PostgresServer.Required, "--schema", _schema);
        var held = await Cli.RunAsync("cluster", "leases", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(listed.ExitCode == 0, listed.Error);
        Assert.Matches(@"10\.0\.0\.5:7400\s*│\s*42\s*│\s*Up\s*│\s*web", listed.Output);
        Assert.True(held.ExitCode == 0, held.Error);
        Assert.Contains("singleton:ledger", held.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cluster_shards_reads_the_schema()
    {
        await using (var shards = new PostgreSqlShardStore(PostgresServer.Options(_schema)))
        {
            await shards.SetHomeAsync("wallet", "7", "recall://shop@10.0.0.5:7400", default);
            await shards.AddEntityAsync("wallet", "7", "alice", default);
        }

        var listed = await Cli.RunAsync("cluster", "shards", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(listed.ExitCode == 0, listed.Error);
        Assert.Matches(@"wallet\s*│\s*7\s*│\s*recall://shop@10\.0\.0\.5:7400\s*│\s*1\s", listed.Output);
    }

    [Fact]
    public async Task Ids_lists_the_persistence_ids_of_the_schema()
    {
        var result = await Cli.RunAsync("journal", "ids", "--postgres", PostgresServer.Required, "--schema", _schema);

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Matches(@"wallet-alice\s*│\s*2\s*│\s*2\s", result.Output);
        Assert.Matches(@"wallet-bob\s*│\s*1\s*│\s*1\s", result.Output);
    }

    [Fact]
    public async Task Events_takes_the_persistence_id_as_its_only_argument_and_shows_them_in_order()
    {
        var result = await Cli.RunAsync("journal", "events", "--postgres", PostgresServer.Required, "--schema", _schema, "wallet-alice");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("wallet.balance-changed.v1", result.Output, StringComparison.Ordinal);
        var deposit = result.Output.IndexOf("{\"Coins\":10}", StringComparison.Ordinal);
        var withdrawal = result.Output.IndexOf("{\"Coins\":-3}", StringComparison.Ordinal);
        Assert.True(deposit >= 0 && withdrawal > deposit, result.Output);
    }

    [Fact]
    public async Task Tail_takes_the_count_as_its_only_argument()
    {
        var result = await Cli.RunAsync("journal", "tail", "--postgres", PostgresServer.Required, "--schema", _schema, "1");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("{\"Coins\":5}", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("{\"Coins\":-3}", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_persistence_id_is_an_error_naming_it_and_the_schema()
    {
        var result = await Cli.RunAsync("journal", "events", "--postgres", PostgresServer.Required, "--schema", _schema, "wallet-zed");

        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("'wallet-zed'", line, StringComparison.Ordinal);
        Assert.Contains(_schema, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_schema_is_an_error_naming_it_and_nothing_is_created()
    {
        var missing = PostgresServer.NewSchema("cli_missing");

        var result = await Cli.RunAsync("journal", "ids", "--postgres", PostgresServer.Required, "--schema", missing);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"'{missing}'", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        Assert.False(await SchemaExistsAsync(missing));
    }

    [Fact]
    public async Task A_schema_without_recall_tables_is_not_a_journal()
    {
        var other = PostgresServer.NewSchema("cli_other");
        await PostgresServer.ExecuteAsync($"CREATE SCHEMA \"{other}\"; CREATE TABLE \"{other}\".orders (id int)");
        try
        {
            var result = await Cli.RunAsync("journal", "tail", "--postgres", PostgresServer.Required, "--schema", other);

            Assert.Equal(1, result.ExitCode);
            Assert.Contains("no Recall journal", Assert.Single(result.ErrorLines), StringComparison.Ordinal);
        }
        finally
        {
            await PostgresServer.DropSchemaAsync(other);
        }
    }

    [Fact]
    public async Task The_inspector_reads_ids_and_events_with_their_payloads()
    {
        await using var inspector = await PostgreSqlJournalInspector.OpenAsync(PostgresServer.Required, _schema);

        Assert.Equal(["wallet-alice", "wallet-bob"], (await inspector.PersistenceIdsAsync()).Select(i => i.PersistenceId));
        var events = await inspector.EventsAsync("wallet-alice");
        Assert.Equal([1L, 2L], events.Select(e => e.SequenceNumber));
        Assert.Equal(["{\"Coins\":10}", "{\"Coins\":-3}"], events.Select(e => e.Payload));
        Assert.Contains(_schema, inspector.Location, StringComparison.Ordinal);
    }

    private static async Task<bool> SchemaExistsAsync(string schema)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", connection);
        command.Parameters.AddWithValue(schema);
        return await command.ExecuteScalarAsync() is true;
    }
}
