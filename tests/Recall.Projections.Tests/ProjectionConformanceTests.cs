using Microsoft.Data.Sqlite;
using Npgsql;
using Recall.Persistence.PostgreSql.Tests;
using Recall.Persistence.Query;
using Recall.Projections.PostgreSql;
using Recall.Projections.Sqlite;
using Recall.TestKit.Conformance;

namespace Recall.Projections.Tests;

/// <summary>At-least-once projections over an offset store: the read model is a list in memory, the offsets are the store's.</summary>
public abstract class OffsetStoreConformance : ProjectionConformance
{
    private readonly Dictionary<string, List<(string, long)>> _models = [];

    /// <summary>The offset store under test; one instance for the whole test (every actor system of it).</summary>
    protected abstract IProjectionOffsetStore Offsets { get; }

    protected override Projection CreateProjection(string name, ProjectionSource source, Action<EventEnvelope> check) =>
        Projection.AtLeastOnce(name, source, Offsets, (envelope, _) =>
            {
                lock (_models)
                {
                    Model(name).Add((envelope.PersistenceId, envelope.SequenceNumber));
                }

                check(envelope);
                return Task.CompletedTask;
            })
            .WithClear(_ =>
            {
                lock (_models)
                {
                    Model(name).Clear();
                }

                return Task.CompletedTask;
            });

    protected override Task<IReadOnlyList<(string PersistenceId, long SequenceNumber)>> ReadModelAsync(string name)
    {
        lock (_models)
        {
            return Task.FromResult<IReadOnlyList<(string, long)>>([.. Model(name)]);
        }
    }

    protected override async Task<StoredProjection?> ReadStoredAsync(ProjectionId id) => await Offsets.ReadAsync(id, default);

    private List<(string, long)> Model(string name)
    {
        if (!_models.TryGetValue(name, out var model))
        {
            _models[name] = model = [];
        }

        return model;
    }
}

public sealed class InMemoryOffsetStoreConformanceTests : OffsetStoreConformance
{
    protected override IProjectionOffsetStore Offsets { get; } = new InMemoryProjectionOffsetStore();
}

public sealed class SqliteOffsetStoreConformanceTests : OffsetStoreConformance, IDisposable
{
    private readonly TempFolder _folder = new();

    public SqliteOffsetStoreConformanceTests() => Offsets = new SqliteProjectionOffsetStore(_folder.File());

    protected override IProjectionOffsetStore Offsets { get; }

    public void Dispose() => _folder.Dispose();
}

[RequiresPostgres]
public sealed class PostgreSqlOffsetStoreConformanceTests : OffsetStoreConformance
{
    private readonly string _schema = PostgresServer.NewSchema("pcoff");
    private PostgreSqlProjectionOffsetStore? _offsets;

    protected override IProjectionOffsetStore Offsets => _offsets ??= new(new PostgreSqlProjectionDatabase(PostgresServer.Required) { Schema = _schema });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_offsets is not null)
        {
            await _offsets.DisposeAsync();
        }

        await PostgresServer.DropSchemaAsync(_schema);
    }
}

/// <summary>Exactly-once into a SQLite file: the read model is a table of the file, written in the offset's transaction.</summary>
public sealed class SqliteExactlyOnceConformanceTests : ProjectionConformance, IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly string _path;

    public SqliteExactlyOnceConformanceTests() => _path = _folder.File();

    public void Dispose() => _folder.Dispose();

    protected override Projection CreateProjection(string name, ProjectionSource source, Action<EventEnvelope> check) =>
        SqliteProjection.ExactlyOnce(name, source, _path, (envelope, connection, transaction, _) =>
            {
                Execute(connection, transaction, "INSERT INTO model (projection, persistence_id, sequence_number) VALUES ($n, $p, $s)", name, envelope);
                check(envelope);
                return Task.CompletedTask;
            })
            .WithSetup((connection, transaction, _) =>
            {
                // No key on purpose: an envelope applied twice shows as a second row.
                Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS model (id INTEGER PRIMARY KEY, projection TEXT NOT NULL, persistence_id TEXT NOT NULL, sequence_number INTEGER NOT NULL)", name, null);
                return Task.CompletedTask;
            })
            .WithClear((connection, transaction, _) =>
            {
                Execute(connection, transaction, "DELETE FROM model WHERE projection = $n", name, null);
                return Task.CompletedTask;
            });

    protected override Task<IReadOnlyList<(string PersistenceId, long SequenceNumber)>> ReadModelAsync(string name)
    {
        using var connection = new SqliteConnection($"Data Source={_path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT persistence_id, sequence_number FROM model WHERE projection = $n ORDER BY id";
        command.Parameters.AddWithValue("$n", name);
        using var reader = command.ExecuteReader();
        var rows = new List<(string, long)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return Task.FromResult<IReadOnlyList<(string, long)>>(rows);
    }

    protected override Task<StoredProjection?> ReadStoredAsync(ProjectionId id)
    {
        using var connection = new SqliteConnection($"Data Source={_path};Pooling=False");
        connection.Open();
        return Task.FromResult(SqliteProjectionsInspector.Read(connection).SingleOrDefault(p => p.Id == id));
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, string name, EventEnvelope? envelope)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$n", name);
        if (envelope is not null)
        {
            command.Parameters.AddWithValue("$p", envelope.PersistenceId);
            command.Parameters.AddWithValue("$s", envelope.SequenceNumber);
        }

        command.ExecuteNonQuery();
    }
}

/// <summary>Exactly-once into PostgreSQL: the read model is a table of the schema, written in the offset's transaction.</summary>
[RequiresPostgres]
public sealed class PostgreSqlExactlyOnceConformanceTests : ProjectionConformance
{
    private readonly string _schema = PostgresServer.NewSchema("pcexo");

    private string Model => $"\"{_schema}\".model";

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await PostgresServer.DropSchemaAsync(_schema);
    }

    protected override Projection CreateProjection(string name, ProjectionSource source, Action<EventEnvelope> check) =>
        PostgreSqlProjection.ExactlyOnce(name, source, new PostgreSqlProjectionDatabase(PostgresServer.Required) { Schema = _schema }, async (envelope, connection, transaction, ct) =>
            {
                await using (var command = new NpgsqlCommand($"INSERT INTO {Model} (projection, persistence_id, sequence_number) VALUES ($1, $2, $3)", connection, transaction))
                {
                    command.Parameters.AddWithValue(name);
                    command.Parameters.AddWithValue(envelope.PersistenceId);
                    command.Parameters.AddWithValue(envelope.SequenceNumber);
                    await command.ExecuteNonQueryAsync(ct);
                }

                check(envelope);
            })
            .WithSetup(async (connection, transaction, ct) =>
            {
                // No key on purpose: an envelope applied twice shows as a second row.
                await using var command = new NpgsqlCommand(
                    $"CREATE TABLE IF NOT EXISTS {Model} (id bigint GENERATED ALWAYS AS IDENTITY, projection text NOT NULL, persistence_id text NOT NULL, sequence_number bigint NOT NULL)",
                    connection,
                    transaction);
                await command.ExecuteNonQueryAsync(ct);
            })
            .WithClear(async (connection, transaction, ct) =>
            {
                await using var command = new NpgsqlCommand($"DELETE FROM {Model} WHERE projection = $1", connection, transaction);
                command.Parameters.AddWithValue(name);
                await command.ExecuteNonQueryAsync(ct);
            });

    protected override async Task<IReadOnlyList<(string PersistenceId, long SequenceNumber)>> ReadModelAsync(string name)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT persistence_id, sequence_number FROM {Model} WHERE projection = $1 ORDER BY id", connection);
        command.Parameters.AddWithValue(name);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return rows;
    }

    protected override async Task<StoredProjection?> ReadStoredAsync(ProjectionId id) =>
        (await PostgreSqlProjectionsInspector.ReadAsync(PostgresServer.Required, _schema)).SingleOrDefault(p => p.Id == id);
}
