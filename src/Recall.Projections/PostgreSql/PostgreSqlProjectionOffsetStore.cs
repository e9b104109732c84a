using Npgsql;
using Recall.Persistence.Query;

namespace Recall.Projections.PostgreSql;

/// <summary>
/// Offsets of at-least-once projections in the table <c>recall_projection_offsets</c> of a
/// PostgreSQL schema (created if missing), the same table exactly-once PostgreSQL projections use.
/// Owns a small connection pool: dispose it after the projections that use it stopped.
/// </summary>
public sealed class PostgreSqlProjectionOffsetStore : IProjectionOffsetStore, IAsyncDisposable
{
    private readonly PostgreSqlProjectionDatabase _database;
    private readonly TimeProvider _time;
    private readonly NpgsqlDataSource _source;
    private volatile bool _tableReady;

    /// <summary>Offsets in <paramref name="database"/>.</summary>
    /// <param name="database">The database and schema.</param>
    /// <param name="timeProvider">The clock of the rows' update times; the system clock by default.</param>
    public PostgreSqlProjectionOffsetStore(PostgreSqlProjectionDatabase database, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
        _time = timeProvider ?? TimeProvider.System;
        _source = database.CreateDataSource();
    }

    /// <inheritdoc />
    public async ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await PostgreSqlOffsetsTable.ReadAsync(connection, null, _database.QuotedSchema, id, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await PostgreSqlOffsetsTable.SaveAsync(connection, null, _database.QuotedSchema, id, offset, lastEventTimestamp, _time.GetUtcNow(), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await PostgreSqlOffsetsTable.SaveStateAsync(connection, null, _database.QuotedSchema, id, state, error, _time.GetUtcNow(), cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _source.DisposeAsync();

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await _source.OpenConnectionAsync(cancellationToken);
        if (!_tableReady)
        {
            try
            {
                await PostgreSqlOffsetsTable.EnsureAsync(connection, _database, cancellationToken);
            }
            catch
            {
                await connection.DisposeAsync();
                throw;
            }

            _tableReady = true;
        }

        return connection;
    }
}
