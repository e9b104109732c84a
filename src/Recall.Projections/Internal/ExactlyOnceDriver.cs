using System.Data.Common;
using Recall.Persistence.Query;

namespace Recall.Projections.Internal;

/// <summary>
/// Exactly-once into a relational store: the handler and the offset in one transaction, so the read
/// model and the offset commit together or not at all. The store's part is its
/// <see cref="OffsetsDialect"/>; the handlers get the store's own connection and transaction types.
/// </summary>
internal sealed class ExactlyOnceDriver<TConnection, TTransaction>(
    ProjectionId id,
    OffsetsDialect dialect,
    Func<EventEnvelope, TConnection, TTransaction, CancellationToken, Task>? envelopeHandler,
    Func<IReadOnlyList<EventEnvelope>, TConnection, TTransaction, CancellationToken, Task>? batchHandler,
    Func<TConnection, TTransaction, CancellationToken, Task>? setup,
    Func<TConnection, TTransaction, CancellationToken, Task>? clear,
    TimeProvider time) : ProjectionDriver
    where TConnection : DbConnection
    where TTransaction : DbTransaction
{
    private Offset _expected;

    public override async Task<StoredProjection?> StartAsync(CancellationToken cancellationToken)
    {
        // Fresh connections per run: a failure may have left the old ones in any state.
        await dialect.ResetAsync();
        return await InTransactionAsync(
            async (connection, transaction) =>
            {
                if (setup is not null)
                {
                    await setup(connection, transaction, cancellationToken);
                }

                await dialect.SaveStateAsync(connection, transaction, id, ProjectionState.Running, null, time.GetUtcNow(), cancellationToken);
                var row = await dialect.ReadAsync(connection, transaction, id, cancellationToken);
                _expected = row!.Offset;
                return row;
            },
            cancellationToken);
    }

    public override async Task HandleAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken cancellationToken)
    {
        var last = batch[^1];
        await InTransactionAsync(
            async (connection, transaction) =>
            {
                if (batchHandler is not null)
                {
                    try
                    {
                        await batchHandler(batch, connection, transaction, cancellationToken);
                    }
                    catch (Exception exception)
                    {
                        throw new ProjectionHandlerException(null, batch, exception);
                    }
                }
                else
                {
                    foreach (var envelope in batch)
                    {
                        try
                        {
                            await envelopeHandler!(envelope, connection, transaction, cancellationToken);
                        }
                        catch (Exception exception)
                        {
                            throw new ProjectionHandlerException(envelope, batch, exception);
                        }
                    }
                }

                if (!await dialect.AdvanceAsync(connection, transaction, id, _expected, last.Offset, last.Timestamp, time.GetUtcNow(), cancellationToken))
                {
                    throw new ProjectionOffsetConflictException(id, _expected);
                }

                return true;
            },
            cancellationToken);
        _expected = last.Offset;
    }

    public override async Task ResetAsync(Offset offset, CancellationToken cancellationToken)
    {
        await dialect.UseAsync(
            connection => dialect.SaveAsync(connection, null, id, offset, null, time.GetUtcNow(), cancellationToken),
            cancellationToken);
        _expected = offset;
    }

    public override async Task RebuildAsync(CancellationToken cancellationToken)
    {
        await InTransactionAsync(
            async (connection, transaction) =>
            {
                if (clear is not null)
                {
                    await clear(connection, transaction, cancellationToken);
                }

                await dialect.SaveAsync(connection, transaction, id, Offset.Start, null, time.GetUtcNow(), cancellationToken);
                return true;
            },
            cancellationToken);
        _expected = Offset.Start;
    }

    public override Task SaveStateAsync(ProjectionState state, string? error, CancellationToken cancellationToken) =>
        dialect.UseAsync(
            connection => dialect.SaveStateAsync(connection, null, id, state, error, time.GetUtcNow(), cancellationToken),
            cancellationToken);

    public override ValueTask DisposeAsync() => dialect.DisposeAsync();

    /// <summary>Runs <paramref name="work"/> in a transaction and commits it; a failure rolls it back.</summary>
    private Task<T> InTransactionAsync<T>(Func<TConnection, TTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        dialect.UseAsync(
            async connection =>
            {
                await using var transaction = await dialect.BeginAsync(connection, cancellationToken);
                var result = await work((TConnection)connection, (TTransaction)transaction);
                await transaction.CommitAsync(cancellationToken);
                return result;
            },
            cancellationToken);
}
