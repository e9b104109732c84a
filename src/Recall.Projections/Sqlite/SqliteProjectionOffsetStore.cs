using Recall.Persistence.Query;

namespace Recall.Projections.Sqlite;

/// <summary>
/// Offsets of at-least-once projections in the table <c>recall_projection_offsets</c> of a SQLite
/// file (created if missing), the same table exactly-once SQLite projections use. Each call opens a
/// pooled connection and commits on its own.
/// </summary>
public sealed class SqliteProjectionOffsetStore : IProjectionOffsetStore
{
    private readonly SqliteProjectionDatabase _database;
    private readonly TimeProvider _time;
    private volatile bool _tableReady;

    /// <summary>Offsets in the SQLite file at <paramref name="path"/>.</summary>
    public SqliteProjectionOffsetStore(string path)
        : this(new SqliteProjectionDatabase(path))
    {
    }

    /// <summary>Offsets in <paramref name="database"/>.</summary>
    /// <param name="database">The file and how to open it.</param>
    /// <param name="timeProvider">The clock of the rows' update times; the system clock by default.</param>
    public SqliteProjectionOffsetStore(SqliteProjectionDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken)
    {
        using var connection = Open();
        return ValueTask.FromResult(SqliteOffsetsTable.Read(connection, null, id));
    }

    /// <inheritdoc />
    public ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken)
    {
        using var connection = Open();
        SqliteOffsetsTable.Save(connection, null, id, offset, lastEventTimestamp, _time.GetUtcNow());
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken)
    {
        using var connection = Open();
        SqliteOffsetsTable.SaveState(connection, null, id, state, error, _time.GetUtcNow());
        return ValueTask.CompletedTask;
    }

    private Microsoft.Data.Sqlite.SqliteConnection Open()
    {
        var connection = SqliteOffsetsTable.Open(_database);
        if (!_tableReady)
        {
            try
            {
                SqliteOffsetsTable.EnsureTable(connection, null);
            }
            catch
            {
                connection.Dispose();
                throw;
            }

            _tableReady = true;
        }

        return connection;
    }
}
