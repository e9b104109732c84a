using Microsoft.Data.Sqlite;
using Recall.Persistence.Sharding;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// Cluster sharding's shard homes and remembered entities in a Recall SQLite file (tables
/// <c>cluster_shards</c> and <c>cluster_shard_entities</c>), for several processes on one machine.
/// One statement per call.
/// </summary>
public sealed class SqliteShardStore : IShardStore, IAsyncDisposable
{
    private const string ReadHomesSql = "SELECT type_name, shard_id, node FROM cluster_shards WHERE $type IS NULL OR type_name = $type ORDER BY type_name, shard_id";
    private const string SetHomeSql = "INSERT INTO cluster_shards (type_name, shard_id, node) VALUES ($type, $shard, $node) ON CONFLICT (type_name, shard_id) DO UPDATE SET node = excluded.node";
    private const string RemoveHomeSql = "DELETE FROM cluster_shards WHERE type_name = $type AND shard_id = $shard";
    private const string ReadEntitiesSql = "SELECT entity_id FROM cluster_shard_entities WHERE type_name = $type AND shard_id = $shard ORDER BY entity_id";
    private const string AddEntitySql = "INSERT INTO cluster_shard_entities (type_name, shard_id, entity_id) VALUES ($type, $shard, $entity) ON CONFLICT DO NOTHING";
    private const string RemoveEntitySql = "DELETE FROM cluster_shard_entities WHERE type_name = $type AND shard_id = $shard AND entity_id = $entity";
    private const string CountSql = "SELECT type_name, shard_id, count(*) FROM cluster_shard_entities WHERE $type IS NULL OR type_name = $type GROUP BY type_name, shard_id ORDER BY type_name, shard_id";

    private readonly SqliteDatabase _database;

    /// <summary>Opens (or creates) the Recall file of <paramref name="options"/>; its schema includes the sharding tables.</summary>
    public SqliteShardStore(SqliteStoreOptions options) => _database = new SqliteDatabase(options);

    /// <summary>The full path of the database file.</summary>
    public string Path => _database.Path;

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ShardHomeRecord>> ReadHomesAsync(string? typeName, CancellationToken cancellationToken) =>
        await ReadAsync(ReadHomesSql, c => c.Parameters.AddWithValue("$type", (object?)typeName ?? DBNull.Value), r => new ShardHomeRecord(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken);

    /// <inheritdoc />
    public async ValueTask SetHomeAsync(string typeName, string shardId, string node, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        ArgumentException.ThrowIfNullOrEmpty(node);
        await _database.WriteAsync(connection =>
        {
            using var command = Command(connection, SetHomeSql, typeName, shardId);
            command.Parameters.AddWithValue("$node", node);
            return command.ExecuteNonQuery();
        });
    }

    /// <inheritdoc />
    public async ValueTask RemoveHomesAsync(string typeName, IReadOnlyCollection<string> shardIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        foreach (var shardId in shardIds)
        {
            ShardArguments.Check(typeName, shardId);
        }

        await _database.WriteAsync(connection =>
        {
            using var transaction = connection.BeginTransaction();
            foreach (var shardId in shardIds)
            {
                using var command = Command(connection, RemoveHomeSql, typeName, shardId);
                command.Transaction = transaction;
                command.ExecuteNonQuery();
            }

            transaction.Commit();
            return shardIds.Count;
        });
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ReadEntitiesAsync(string typeName, string shardId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        return await ReadAsync(ReadEntitiesSql, c => Shard(c, typeName, shardId), r => r.GetString(0), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask AddEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        await WriteEntityAsync(AddEntitySql, typeName, shardId, entityId);
    }

    /// <inheritdoc />
    public async ValueTask RemoveEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        await WriteEntityAsync(RemoveEntitySql, typeName, shardId, entityId);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ShardEntityCount>> CountEntitiesAsync(string? typeName, CancellationToken cancellationToken) =>
        await ReadAsync(CountSql, c => c.Parameters.AddWithValue("$type", (object?)typeName ?? DBNull.Value), r => new ShardEntityCount(r.GetString(0), r.GetString(1), r.GetInt32(2)), cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<int> WriteEntityAsync(string sql, string typeName, string shardId, string entityId) =>
        _database.WriteAsync(connection =>
        {
            using var command = Command(connection, sql, typeName, shardId);
            command.Parameters.AddWithValue("$entity", entityId);
            return command.ExecuteNonQuery();
        });

    private async Task<List<T>> ReadAsync<T>(string sql, Action<SqliteCommand> parameters, Func<SqliteDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var connection = _database.OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        parameters(command);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<T>();
        while (reader.Read())
        {
            found.Add(read(reader));
        }

        return found;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, string typeName, string shardId)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        Shard(command, typeName, shardId);
        return command;
    }

    private static void Shard(SqliteCommand command, string typeName, string shardId)
    {
        command.Parameters.AddWithValue("$type", typeName);
        command.Parameters.AddWithValue("$shard", shardId);
    }
}
