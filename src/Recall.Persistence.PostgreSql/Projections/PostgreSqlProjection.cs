using Npgsql;
using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.PostgreSql;

/// <summary>Applies one envelope to a read model in PostgreSQL, inside the transaction that also stores the offset.</summary>
/// <param name="envelope">The event and where it is in the stream.</param>
/// <param name="connection">The connection of the transaction.</param>
/// <param name="transaction">The open transaction: give it to every command; do not commit it.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); the transaction is then rolled back.</param>
public delegate Task PostgreSqlEnvelopeHandler(EventEnvelope envelope, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>Applies a batch of envelopes to a read model in PostgreSQL, inside the transaction that also stores the offset.</summary>
/// <param name="envelopes">The envelopes, in stream order; the list belongs to the handler.</param>
/// <param name="connection">The connection of the transaction.</param>
/// <param name="transaction">The open transaction: give it to every command; do not commit it.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); the transaction is then rolled back.</param>
public delegate Task PostgreSqlBatchHandler(IReadOnlyList<EventEnvelope> envelopes, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>A step of a PostgreSQL projection that runs in a transaction of its own: the setup at each start, the clear of a rebuild.</summary>
/// <param name="connection">The connection of the transaction.</param>
/// <param name="transaction">The open transaction: give it to every command; do not commit it.</param>
/// <param name="cancellationToken">Cancels the step.</param>
public delegate Task PostgreSqlStep(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken);

/// <summary>
/// A projection into PostgreSQL whose handler writes the read model in the same transaction as the
/// offset (the table <c>recall_projection_offsets</c> of <see cref="PostgreSqlProjectionDatabase.Schema"/>):
/// each batch is applied exactly once, because the read model and the offset commit together or
/// not at all.
/// </summary>
public sealed class PostgreSqlProjection : Projection
{
    private readonly PostgreSqlEnvelopeHandler? _envelopeHandler;
    private readonly PostgreSqlBatchHandler? _batchHandler;
    private PostgreSqlStep? _setup;
    private PostgreSqlStep? _clear;

    private PostgreSqlProjection(string name, ProjectionSource source, PostgreSqlProjectionDatabase database, PostgreSqlEnvelopeHandler? envelopeHandler, PostgreSqlBatchHandler? batchHandler)
        : base(name, source)
    {
        ArgumentNullException.ThrowIfNull(database);
        Database = database;
        _envelopeHandler = envelopeHandler;
        _batchHandler = batchHandler;
    }

    /// <summary>The database and schema of the read model and the offsets.</summary>
    public PostgreSqlProjectionDatabase Database { get; }

    /// <inheritdoc />
    public override bool IsExactlyOnce => true;

    /// <summary>
    /// An exactly-once projection into <paramref name="database"/> that hands each envelope to
    /// <paramref name="handler"/>; up to <see cref="ProjectionOptions.MaxBatchSize"/> envelopes share
    /// one transaction.
    /// </summary>
    public static PostgreSqlProjection ExactlyOnce(string name, ProjectionSource source, PostgreSqlProjectionDatabase database, PostgreSqlEnvelopeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new PostgreSqlProjection(name, source, database, handler, null);
    }

    /// <summary>
    /// An exactly-once projection into <paramref name="database"/> whose handler gets whole batches
    /// (up to <see cref="ProjectionOptions.MaxBatchSize"/> envelopes, or what arrived within
    /// <see cref="ProjectionOptions.MaxBatchDelay"/>), one transaction each.
    /// </summary>
    public static PostgreSqlProjection ExactlyOnceGrouped(string name, ProjectionSource source, PostgreSqlProjectionDatabase database, PostgreSqlBatchHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new PostgreSqlProjection(name, source, database, null, handler);
    }

    /// <summary>Changes the settings; returns this projection.</summary>
    public PostgreSqlProjection WithOptions(Action<ProjectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Options);
        return this;
    }

    /// <summary>What runs at every start, in a transaction before the first event: typically <c>CREATE TABLE IF NOT EXISTS</c> of the read model.</summary>
    public PostgreSqlProjection WithSetup(PostgreSqlStep setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _setup = setup;
        return this;
    }

    /// <summary>What a rebuild runs to empty the read model, in the same transaction that resets the offset to the start.</summary>
    public PostgreSqlProjection WithClear(PostgreSqlStep clear)
    {
        ArgumentNullException.ThrowIfNull(clear);
        _clear = clear;
        return this;
    }

    internal override ProjectionDriver CreateDriver(TimeProvider timeProvider) =>
        new ExactlyOnceDriver<NpgsqlConnection, NpgsqlTransaction>(
            Id,
            new PostgreSqlOffsetsDialect(Database),
            _envelopeHandler is null ? null : _envelopeHandler.Invoke,
            _batchHandler is null ? null : _batchHandler.Invoke,
            _setup is null ? null : _setup.Invoke,
            _clear is null ? null : _clear.Invoke,
            timeProvider);
}
