using Npgsql;
using Recall.TestKit.Conformance;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>
/// The stalled-store items on PostgreSQL, with two read connections (fewer than the recoveries
/// that time out, so a leaked read connection shows). A test's transaction holds a lock on the
/// journal table: ACCESS EXCLUSIVE keeps reads out, EXCLUSIVE only writes.
/// </summary>
[RequiresPostgres]
public sealed class PostgreSqlStalledStoreTests : StalledStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("stalled");

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }

    protected override void Configure(PersistenceOptions persistence) =>
        persistence.UsePostgreSql(o =>
        {
            o.ConnectionString = PostgresServer.Required;
            o.Schema = _schema;
            o.MaxReadConnections = 2;
            o.MaxWriteConnections = 2;
            o.CommandTimeout = TimeSpan.FromMinutes(2);
        });

    protected override Task<IAsyncDisposable> HoldReadsAsync() => LockJournalAsync("ACCESS EXCLUSIVE");

    protected override Task<IAsyncDisposable> HoldWritesAsync() => LockJournalAsync("EXCLUSIVE");

    private async Task<IAsyncDisposable> LockJournalAsync(string mode)
    {
        var connection = await PostgresServer.OpenAsync();
        await using (var command = new NpgsqlCommand($"BEGIN; LOCK TABLE \"{_schema}\".journal IN {mode} MODE", connection))
        {
            await command.ExecuteNonQueryAsync();
        }

        return connection; // closing it ends the transaction and its lock
    }
}
