using Microsoft.Data.Sqlite;
using Recall.Persistence.Serialization;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence.Sqlite;

/// <summary>The snapshot store in a SQLite file (usually the journal's file).</summary>
public sealed class SqliteSnapshotStore : ISnapshotStore, IAsyncDisposable
{
    private readonly SqliteDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly bool _ownsDatabase;

    /// <summary>Opens (or creates) the snapshot store in the file of <paramref name="options"/>.</summary>
    public SqliteSnapshotStore(SqliteStoreOptions options, EventSerialization serialization)
        : this(new SqliteDatabase(options), serialization, ownsDatabase: true)
    {
    }

    internal SqliteSnapshotStore(SqliteDatabase database, EventSerialization serialization, bool ownsDatabase)
    {
        _database = database;
        _serialization = serialization;
        _ownsDatabase = ownsDatabase;
    }

    /// <inheritdoc />
    public ValueTask<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        return new ValueTask<SelectedSnapshot?>(_database.ReadAsync(connection => Load(connection, persistenceId, criteria), cancellationToken));
    }

    private SelectedSnapshot? Load(SqliteConnection connection, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT sequence_number, timestamp, manifest, payload FROM snapshots
            WHERE persistence_id = $pid AND sequence_number BETWEEN $minSeq AND $maxSeq AND timestamp BETWEEN $minTs AND $maxTs
            ORDER BY sequence_number DESC LIMIT 1
            """;
        AddCriteria(command, persistenceId, criteria);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero));
        var manifest = reader.GetString(2);
        try
        {
            return new SelectedSnapshot(metadata, _serialization.Deserialize(manifest, (byte[])reader.GetValue(3)));
        }
        catch (Exception exception)
        {
            throw new SnapshotLoadException(metadata, manifest, exception);
        }
    }

    /// <inheritdoc />
    public ValueTask SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var payload = _serialization.Serialize(snapshot);
        return new ValueTask(_database.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT OR REPLACE INTO snapshots (persistence_id, sequence_number, timestamp, manifest, payload)
                VALUES ($pid, $seq, $ts, $manifest, $payload)
                """;
            command.Parameters.AddWithValue("$pid", metadata.PersistenceId);
            command.Parameters.AddWithValue("$seq", metadata.SequenceNumber);
            command.Parameters.AddWithValue("$ts", metadata.Timestamp.UtcTicks);
            command.Parameters.AddWithValue("$manifest", payload.Manifest);
            command.Parameters.AddWithValue("$payload", payload.Data);
            command.ExecuteNonQuery();
            return true;
        }));
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return new ValueTask(_database.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM snapshots WHERE persistence_id = $pid AND sequence_number = $seq AND ($ts = 0 OR timestamp <= $ts)";
            command.Parameters.AddWithValue("$pid", metadata.PersistenceId);
            command.Parameters.AddWithValue("$seq", metadata.SequenceNumber);
            command.Parameters.AddWithValue("$ts", metadata.Timestamp.UtcTicks);
            command.ExecuteNonQuery();
            return true;
        }));
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        ArgumentNullException.ThrowIfNull(criteria);
        return new ValueTask(_database.WriteAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM snapshots WHERE persistence_id = $pid AND sequence_number BETWEEN $minSeq AND $maxSeq AND timestamp BETWEEN $minTs AND $maxTs";
            AddCriteria(command, persistenceId, criteria);
            command.ExecuteNonQuery();
            return true;
        }));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsDatabase)
        {
            await _database.DisposeAsync();
        }
    }

    private static void AddCriteria(SqliteCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$minSeq", criteria.MinSequenceNumber);
        command.Parameters.AddWithValue("$maxSeq", criteria.MaxSequenceNumber);
        command.Parameters.AddWithValue("$minTs", criteria.MinTimestamp.UtcTicks);
        command.Parameters.AddWithValue("$maxTs", criteria.MaxTimestamp.UtcTicks);
    }
}
