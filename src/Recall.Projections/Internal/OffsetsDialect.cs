using System.Data.Common;
using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// What a store adds to exactly-once projections and offset stores: its connections and transactions,
/// and the SQL of the table <c>recall_projection_offsets</c> in its database. Each store's package
/// has one (SQLite, PostgreSQL); the logic around it (<see cref="ExactlyOnceDriver{TConnection, TTransaction}"/>,
/// <see cref="OffsetsTableStore"/>) is shared.
/// </summary>
internal abstract class OffsetsDialect : IAsyncDisposable
{
    /// <summary>A connection with the offsets table created; give it back with <see cref="ReleaseAsync"/>.</summary>
    public abstract Task<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Gives back a connection from <see cref="OpenAsync"/>: closes it, or keeps it for the next call.</summary>
    public abstract ValueTask ReleaseAsync(DbConnection connection);

    /// <summary>Drops what was kept from earlier calls: a failure may have left it in any state.</summary>
    public virtual ValueTask ResetAsync() => ValueTask.CompletedTask;

    /// <summary>Begins a transaction that may write (SQLite takes the write lock at once).</summary>
    public abstract Task<DbTransaction> BeginAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>The stored row of <paramref name="id"/>, or null.</summary>
    public abstract Task<StoredProjection?> ReadAsync(DbConnection connection, DbTransaction? transaction, ProjectionId id, CancellationToken cancellationToken);

    /// <summary>Moves the offset from <paramref name="expected"/> to <paramref name="offset"/>; false when the stored offset is not <paramref name="expected"/>.</summary>
    public abstract Task<bool> AdvanceAsync(
        DbConnection connection, DbTransaction transaction, ProjectionId id, Offset expected, Offset offset, DateTimeOffset eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Stores <paramref name="offset"/> whatever the stored one is, creating the row if missing (a paused row stays paused).</summary>
    public abstract Task SaveAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, Offset offset, DateTimeOffset? eventTimestamp, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records the state (and the error when not null), creating the row at offset 0 if missing.</summary>
    public abstract Task SaveStateAsync(
        DbConnection connection, DbTransaction? transaction, ProjectionId id, ProjectionState state, string? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <summary>Runs <paramref name="work"/> on a connection of <see cref="OpenAsync"/> and gives it back, also when the work fails.</summary>
    public async Task UseAsync(Func<DbConnection, Task> work, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        try
        {
            await work(connection);
        }
        finally
        {
            await ReleaseAsync(connection);
        }
    }

    /// <inheritdoc cref="UseAsync(Func{DbConnection, Task}, CancellationToken)"/>
    public async Task<T> UseAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        try
        {
            return await work(connection);
        }
        finally
        {
            await ReleaseAsync(connection);
        }
    }
}

/// <summary>
/// An <see cref="IProjectionOffsetStore"/> on a store's offsets table: each call takes a connection
/// of the dialect and commits on its own. The stores' public offset stores delegate to it (and
/// dispose the dialect when it holds a pool).
/// </summary>
internal sealed class OffsetsTableStore(OffsetsDialect dialect, TimeProvider time) : IProjectionOffsetStore
{
    public async ValueTask<StoredProjection?> ReadAsync(ProjectionId id, CancellationToken cancellationToken) =>
        await dialect.UseAsync(connection => dialect.ReadAsync(connection, null, id, cancellationToken), cancellationToken);

    public async ValueTask SaveOffsetAsync(ProjectionId id, Offset offset, DateTimeOffset? lastEventTimestamp, CancellationToken cancellationToken) =>
        await dialect.UseAsync(
            connection => dialect.SaveAsync(connection, null, id, offset, lastEventTimestamp, time.GetUtcNow(), cancellationToken),
            cancellationToken);

    public async ValueTask SaveStateAsync(ProjectionId id, ProjectionState state, string? error, CancellationToken cancellationToken) =>
        await dialect.UseAsync(
            connection => dialect.SaveStateAsync(connection, null, id, state, error, time.GetUtcNow(), cancellationToken),
            cancellationToken);
}
