using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections.Internal;

namespace Recall.Projections.Sqlite;

/// <summary>Applies one envelope to a read model in a SQLite file, inside the transaction that also stores the offset.</summary>
/// <param name="envelope">The event and where it is in the stream.</param>
/// <param name="connection">The projection's connection to the file.</param>
/// <param name="transaction">The open transaction: give it to every command (<c>command.Transaction = transaction</c>); do not commit it.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); the transaction is then rolled back.</param>
public delegate Task SqliteEnvelopeHandler(EventEnvelope envelope, SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken);

/// <summary>Applies a batch of envelopes to a read model in a SQLite file, inside the transaction that also stores the offset.</summary>
/// <param name="envelopes">The envelopes, in stream order; the list belongs to the handler.</param>
/// <param name="connection">The projection's connection to the file.</param>
/// <param name="transaction">The open transaction: give it to every command; do not commit it.</param>
/// <param name="cancellationToken">Cancelled when the projection stops (its system terminates); the transaction is then rolled back.</param>
public delegate Task SqliteBatchHandler(IReadOnlyList<EventEnvelope> envelopes, SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken);

/// <summary>A step of a SQLite projection that runs in a transaction of its own: the setup at each start, the clear of a rebuild.</summary>
/// <param name="connection">The projection's connection to the file.</param>
/// <param name="transaction">The open transaction: give it to every command; do not commit it.</param>
/// <param name="cancellationToken">Cancels the step.</param>
public delegate Task SqliteStep(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken);

/// <summary>
/// A projection into a SQLite file whose handler writes the read model in the same transaction as
/// the offset (the table <c>recall_projection_offsets</c> of the same file): each batch is applied
/// exactly once, whatever fails or crashes, because the read model and the offset commit together
/// or not at all.
/// </summary>
public sealed class SqliteProjection : Projection
{
    private readonly SqliteEnvelopeHandler? _envelopeHandler;
    private readonly SqliteBatchHandler? _batchHandler;
    private SqliteStep? _setup;
    private SqliteStep? _clear;

    private SqliteProjection(string name, ProjectionSource source, SqliteProjectionDatabase database, SqliteEnvelopeHandler? envelopeHandler, SqliteBatchHandler? batchHandler)
        : base(name, source)
    {
        ArgumentNullException.ThrowIfNull(database);
        Database = database;
        _envelopeHandler = envelopeHandler;
        _batchHandler = batchHandler;
    }

    /// <summary>The file of the read model and the offsets.</summary>
    public SqliteProjectionDatabase Database { get; }

    /// <inheritdoc />
    public override bool IsExactlyOnce => true;

    /// <summary>
    /// An exactly-once projection into the SQLite file at <paramref name="path"/> that hands each
    /// envelope to <paramref name="handler"/>; up to <see cref="ProjectionOptions.MaxBatchSize"/>
    /// envelopes share one transaction.
    /// </summary>
    public static SqliteProjection ExactlyOnce(string name, ProjectionSource source, string path, SqliteEnvelopeHandler handler) =>
        ExactlyOnce(name, source, new SqliteProjectionDatabase(path), handler);

    /// <inheritdoc cref="ExactlyOnce(string, ProjectionSource, string, SqliteEnvelopeHandler)"/>
    public static SqliteProjection ExactlyOnce(string name, ProjectionSource source, SqliteProjectionDatabase database, SqliteEnvelopeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new SqliteProjection(name, source, database, handler, null);
    }

    /// <summary>
    /// An exactly-once projection into the SQLite file at <paramref name="path"/> whose handler gets
    /// whole batches (up to <see cref="ProjectionOptions.MaxBatchSize"/> envelopes, or what arrived
    /// within <see cref="ProjectionOptions.MaxBatchDelay"/>), one transaction each.
    /// </summary>
    public static SqliteProjection ExactlyOnceGrouped(string name, ProjectionSource source, string path, SqliteBatchHandler handler) =>
        ExactlyOnceGrouped(name, source, new SqliteProjectionDatabase(path), handler);

    /// <inheritdoc cref="ExactlyOnceGrouped(string, ProjectionSource, string, SqliteBatchHandler)"/>
    public static SqliteProjection ExactlyOnceGrouped(string name, ProjectionSource source, SqliteProjectionDatabase database, SqliteBatchHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new SqliteProjection(name, source, database, null, handler);
    }

    /// <summary>Changes the settings; returns this projection.</summary>
    public SqliteProjection WithOptions(Action<ProjectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Options);
        return this;
    }

    /// <summary>What runs at every start, in a transaction before the first event: typically <c>CREATE TABLE IF NOT EXISTS</c> of the read model.</summary>
    public SqliteProjection WithSetup(SqliteStep setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        _setup = setup;
        return this;
    }

    /// <summary>What a rebuild runs to empty the read model, in the same transaction that resets the offset to the start.</summary>
    public SqliteProjection WithClear(SqliteStep clear)
    {
        ArgumentNullException.ThrowIfNull(clear);
        _clear = clear;
        return this;
    }

    internal override ProjectionDriver CreateDriver(TimeProvider timeProvider) =>
        new ExactlyOnceDriver<SqliteConnection, SqliteTransaction>(
            Id,
            new SqliteOffsetsDialect(Database, keepConnection: true),
            _envelopeHandler is null ? null : _envelopeHandler.Invoke,
            _batchHandler is null ? null : _batchHandler.Invoke,
            _setup is null ? null : _setup.Invoke,
            _clear is null ? null : _clear.Invoke,
            timeProvider);
}
