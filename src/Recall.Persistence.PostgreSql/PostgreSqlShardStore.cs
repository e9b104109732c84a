using Npgsql;
using Recall.Persistence.Sharding;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// Cluster sharding's shard homes and remembered entities in the Recall schema of a PostgreSQL
/// database (tables <c>cluster_shards</c> and <c>cluster_shard_entities</c>): one statement per call.
/// </summary>
public sealed class PostgreSqlShardStore : IShardStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly string _readHomesSql;
    private readonly string _setHomeSql;
    private readonly string _removeHomesSql;
    private readonly string _readEntitiesSql;
    private readonly string _addEntitySql;
    private readonly string _removeEntitySql;
    private readonly string _countSql;

    /// <summary>Opens the shard store in the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    public PostgreSqlShardStore(PostgreSqlStoreOptions options)
    {
        _database = new PostgreSqlDatabase(options, smallPool: true); // few, short statements: four connections at most
        var s = _database.Schema;
        _readHomesSql = $"SELECT type_name, shard_id, node FROM {s}.cluster_shards WHERE $1::text IS NULL OR type_name = $1 ORDER BY type_name, shard_id";
        _setHomeSql = $"INSERT INTO {s}.cluster_shards (type_name, shard_id, node) VALUES ($1, $2, $3) ON CONFLICT (type_name, shard_id) DO UPDATE SET node = excluded.node";
        _removeHomesSql = $"DELETE FROM {s}.cluster_shards WHERE type_name = $1 AND shard_id = ANY($2)";
        _readEntitiesSql = $"SELECT entity_id FROM {s}.cluster_shard_entities WHERE type_name = $1 AND shard_id = $2 ORDER BY entity_id";
        _addEntitySql = $"INSERT INTO {s}.cluster_shard_entities (type_name, shard_id, entity_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        _removeEntitySql = $"DELETE FROM {s}.cluster_shard_entities WHERE type_name = $1 AND shard_id = $2 AND entity_id = $3";
        _countSql = $"SELECT type_name, shard_id, count(*)::int FROM {s}.cluster_shard_entities WHERE $1::text IS NULL OR type_name = $1 GROUP BY type_name, shard_id ORDER BY type_name, shard_id";
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ShardHomeRecord>> ReadHomesAsync(string? typeName, CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            "reading shard homes",
            connection => QueryAsync(connection, _readHomesSql, [(object?)typeName ?? DBNull.Value], r => new ShardHomeRecord(r.GetString(0), r.GetString(1), r.GetString(2)), cancellationToken),
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask SetHomeAsync(string typeName, string shardId, string node, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        ArgumentException.ThrowIfNullOrEmpty(node);
        await WriteAsync($"writing the home of shard {shardId} of {typeName}", _setHomeSql, [typeName, shardId, node], cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask RemoveHomesAsync(string typeName, IReadOnlyCollection<string> shardIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(shardIds);
        foreach (var shardId in shardIds)
        {
            ShardArguments.Check(typeName, shardId);
        }

        await WriteAsync($"forgetting {shardIds.Count} shard homes of {typeName}", _removeHomesSql, [typeName, shardIds.ToArray()], cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ReadEntitiesAsync(string typeName, string shardId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId);
        return await _database.ReadAsync(
            $"reading the entities of shard {shardId} of {typeName}",
            connection => QueryAsync(connection, _readEntitiesSql, [typeName, shardId], r => r.GetString(0), cancellationToken),
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask AddEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        await WriteAsync($"remembering entity {entityId} of {typeName}", _addEntitySql, [typeName, shardId, entityId], cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask RemoveEntityAsync(string typeName, string shardId, string entityId, CancellationToken cancellationToken)
    {
        ShardArguments.Check(typeName, shardId, entityId);
        await WriteAsync($"forgetting entity {entityId} of {typeName}", _removeEntitySql, [typeName, shardId, entityId], cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<ShardEntityCount>> CountEntitiesAsync(string? typeName, CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            "counting remembered entities",
            connection => QueryAsync(connection, _countSql, [(object?)typeName ?? DBNull.Value], r => new ShardEntityCount(r.GetString(0), r.GetString(1), r.GetInt32(2)), cancellationToken),
            cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<int> WriteAsync(string operation, string sql, object[] parameters, CancellationToken cancellationToken) =>
        _database.WriteAsync(
            operation,
            async connection =>
            {
                await using var command = Command(connection, sql, parameters);
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);

    private static async Task<List<T>> QueryAsync<T>(NpgsqlConnection connection, string sql, object[] parameters, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var found = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            found.Add(read(reader));
        }

        return found;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, object[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(parameter is DBNull ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } : new NpgsqlParameter { Value = parameter });
        }

        return command;
    }
}
