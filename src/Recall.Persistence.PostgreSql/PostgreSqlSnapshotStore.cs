using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The snapshot store in PostgreSQL (usually the journal's schema). Timestamps are kept to the
/// microsecond, PostgreSQL's precision: a stored timestamp is rounded down, a lower timestamp bound
/// is rounded up, so a bound between two microseconds selects what it would select exactly.
/// </summary>
public sealed class PostgreSqlSnapshotStore : ISnapshotStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly string _loadSql;
    private readonly string _saveSql;
    private readonly string _deleteOneSql;
    private readonly string _deleteSql;

    /// <summary>Opens the snapshot store in the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    /// <exception cref="ArgumentException">A setting of <paramref name="options"/> is invalid.</exception>
    public PostgreSqlSnapshotStore(PostgreSqlStoreOptions options, EventSerialization serialization)
        : this(new PostgreSqlDatabase(options), serialization)
    {
    }

    internal PostgreSqlSnapshotStore(PostgreSqlDatabase database, EventSerialization serialization)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(serialization);
        _database = database;
        _serialization = serialization;
        var s = database.Schema;
        _loadSql = $"""
            SELECT sequence_number, timestamp, manifest, payload FROM {s}.snapshots
            WHERE persistence_id = $1 AND sequence_number BETWEEN $2 AND $3 AND timestamp BETWEEN $4 AND $5
            ORDER BY sequence_number DESC LIMIT 1
            """;
        _saveSql = $"""
            INSERT INTO {s}.snapshots (persistence_id, sequence_number, timestamp, manifest, payload) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (persistence_id, sequence_number) DO UPDATE
            SET timestamp = excluded.timestamp, manifest = excluded.manifest, payload = excluded.payload
            """;
        _deleteOneSql = $"DELETE FROM {s}.snapshots WHERE persistence_id = $1 AND sequence_number = $2 AND ($3::timestamptz IS NULL OR timestamp <= $3)";
        _deleteSql = $"DELETE FROM {s}.snapshots WHERE persistence_id = $1 AND sequence_number BETWEEN $2 AND $3 AND timestamp BETWEEN $4 AND $5";
    }

    /// <inheritdoc />
    public async ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        var found = await _database.ReadAsync(
            $"snapshot load of '{persistenceId}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_loadSql, connection);
                AddCriteria(command, persistenceId, criteria);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    return null;
                }

                var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTimeOffset(DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(1), DateTimeKind.Utc)));
                return new StoredSnapshot(metadata, reader.GetString(2), reader.GetFieldValue<byte[]>(3));
            },
            cancellationToken);
        if (found is null)
        {
            return null;
        }

        var (metadata, manifest, payload) = found;
        try
        {
            return new SelectedSnapshot(metadata, _serialization.Deserialize(manifest, payload));
        }
        catch (Exception exception)
        {
            throw new SnapshotLoadException(metadata, manifest, exception);
        }
    }

    /// <inheritdoc />
    public async ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var payload = _serialization.Serialize(snapshot);
        await _database.WriteAsync(
            $"snapshot save of '{metadata.PersistenceId}' at {metadata.SequenceNumber}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_saveSql, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = metadata.PersistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = metadata.SequenceNumber });
                command.Parameters.Add(new NpgsqlParameter<DateTime>() { TypedValue = PostgreSqlJournal.ToMicroseconds(metadata.Timestamp), NpgsqlDbType = NpgsqlDbType.TimestampTz });
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = payload.Manifest, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<byte[]>() { TypedValue = payload.Data, NpgsqlDbType = NpgsqlDbType.Bytea });
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        await _database.WriteAsync(
            $"snapshot delete of '{metadata.PersistenceId}' at {metadata.SequenceNumber}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_deleteOneSql, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = metadata.PersistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = metadata.SequenceNumber });
                command.Parameters.Add(new NpgsqlParameter
                {
                    Value = metadata.Timestamp == default ? DBNull.Value : PostgreSqlJournal.ToMicroseconds(metadata.Timestamp),
                    NpgsqlDbType = NpgsqlDbType.TimestampTz,
                });
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        await _database.WriteAsync(
            $"snapshot delete of '{persistenceId}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_deleteSql, connection);
                AddCriteria(command, persistenceId, criteria);
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private sealed record StoredSnapshot(SnapshotMetadata Metadata, string Manifest, byte[] Payload);

    private static void AddCriteria(NpgsqlCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = criteria.MinSequenceNumber });
        command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = criteria.MaxSequenceNumber });
        command.Parameters.Add(new NpgsqlParameter<DateTime>() { TypedValue = RoundUp(criteria.MinTimestamp), NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTime>() { TypedValue = PostgreSqlJournal.ToMicroseconds(criteria.MaxTimestamp), NpgsqlDbType = NpgsqlDbType.TimestampTz });
    }

    /// <summary>A lower bound rounded up to the microsecond: stored timestamps are whole microseconds.</summary>
    private static DateTime RoundUp(DateTimeOffset timestamp)
    {
        var utc = timestamp.UtcDateTime;
        var remainder = utc.Ticks % TimeSpan.TicksPerMicrosecond;
        return remainder == 0 || utc > DateTime.MaxValue.AddTicks(-TimeSpan.TicksPerMicrosecond) ? utc : utc.AddTicks(TimeSpan.TicksPerMicrosecond - remainder);
    }
}
