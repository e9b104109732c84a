using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The journal in PostgreSQL. A batch from the journal front is one SQL statement (one round trip,
/// one commit): the rows travel as arrays and are expanded by <c>unnest</c>. The primary key
/// (persistence id, sequence number) refuses a second writer; an atomic write that would overwrite
/// an event, or refill a deleted history, becomes a <see cref="SequenceConflictException"/> in its
/// own result slot while the rest of the batch commits.
/// </summary>
/// <remarks>
/// <para><b>Conflicts.</b> The statement has no <c>ON CONFLICT</c> clause: a conflict aborts it
/// whole, so an atomic write of several events can never be half stored. The store then asks which
/// (persistence id, sequence number) pairs exist, marks the atomic writes that hold one as
/// conflicts, and sends the others again. Conflicts only happen when two writers exist, so the
/// common path stays one round trip. Sequence numbers at or below the highest of a deleted history
/// are filtered inside the statement (per atomic write, all or nothing) and reported back by it.</para>
/// <para><b>Failures.</b> A lost connection or any other database error fails the whole call with a
/// <see cref="PostgreSqlStoreException"/> naming the server, database and schema. Nothing is
/// retried: a commit whose acknowledgement was lost may or may not be stored, and only recovery of
/// the writer can tell.</para>
/// <para><b>Read side.</b> <see cref="Reads"/>, a <see cref="PostgreSqlReadJournalStore"/> over
/// the journal's connection pool: every write batch notifies the schema's channel and wakes the
/// pool's live streams.</para>
/// </remarks>
public sealed partial class PostgreSqlJournal : IJournal, IFencingJournal, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly PostgreSqlJournalSql _sql;

    /// <summary>Opens the journal in the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    /// <exception cref="ArgumentException">A setting of <paramref name="options"/> is invalid.</exception>
    public PostgreSqlJournal(PostgreSqlStoreOptions options, EventSerialization serialization)
        : this(new PostgreSqlDatabase(options), serialization)
    {
    }

    internal PostgreSqlJournal(PostgreSqlDatabase database, EventSerialization serialization)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(serialization);
        _database = database;
        _serialization = serialization;
        _sql = new PostgreSqlJournalSql(database.Schema);
        Reads = new PostgreSqlReadJournalStore(database.Acquire(), serialization);
    }

    /// <summary>Where the journal is: schema, database, host and port.</summary>
    public string Location => _database.Location;

    /// <summary>
    /// The read side of this journal's schema over its connection pool: replays, and the store to
    /// read as streams (<c>new ReadJournal(journal.Reads)</c>), whose live streams wake at each write
    /// of this journal and at the schema's notifications. Closed with the journal.
    /// </summary>
    public PostgreSqlReadJournalStore Reads { get; }

    /// <inheritdoc />
    public async ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return await _database.WriteAsync(
            $"raising the fencing token of '{persistenceId}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_sql.Fence, connection);
                command.Parameters.AddWithValue(persistenceId);
                command.Parameters.AddWithValue(token);
                return (long)(await command.ExecuteScalarAsync(cancellationToken))! == token;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);

        // Serialize first: a payload that cannot be serialized rejects its own atomic write and
        // never reaches the database. A key repeated inside the batch is a conflict of the later write.
        var results = new Exception?[writes.Count];
        var payloads = new SerializedPayload[writes.Count][];
        var keys = new HashSet<(string, long)>();
        for (var i = 0; i < writes.Count; i++)
        {
            try
            {
                payloads[i] = [.. writes[i].Events.Select(e => _serialization.Serialize(e.Payload))];
            }
            catch (Exception exception)
            {
                results[i] = exception;
                continue;
            }

            foreach (var repr in writes[i].Events)
            {
                if (!keys.Add((repr.PersistenceId, repr.SequenceNumber)))
                {
                    results[i] = new SequenceConflictException(repr.PersistenceId, repr.SequenceNumber);
                    break;
                }
            }
        }

        var batch = new Batch(writes, payloads, results);
        if (batch.Rows == 0)
        {
            return results;
        }

        var written = await _database.WriteAsync(
            $"write of {batch.Rows} events",
            async connection =>
            {
                // A unique violation aborts the statement whole; the writes that caused it are found
                // and left out, and the rest is sent again. Each round removes at least one write
                // unless a concurrent writer's transaction conflicted and then rolled back, hence the bound.
                for (var attempt = 1; ; attempt++)
                {
                    if (attempt > 1)
                    {
                        batch = new Batch(writes, payloads, results);
                        if (batch.Rows == 0)
                        {
                            return results;
                        }
                    }

                    try
                    {
                        await InsertAsync(connection, batch, cancellationToken);
                        return results;
                    }
                    catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation && attempt < writes.Count + 3)
                    {
                        await MarkConflictsAsync(connection, batch, exception, cancellationToken);
                    }
                }
            },
            cancellationToken);
        if (written.Any(result => result is null))
        {
            _database.Writes.Notify();
        }

        return written;
    }

    /// <summary>
    /// Inserts <paramref name="writes"/> with the statements of <see cref="WriteAsync"/> inside
    /// <paramref name="transaction"/>, which the caller commits or rolls back (for tests that hold a
    /// write open or roll it back). Throws on any conflict.
    /// </summary>
    internal async Task InsertInTransactionAsync(NpgsqlTransaction transaction, IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        var results = new Exception?[writes.Count];
        var payloads = writes.Select(write => write.Events.Select(e => _serialization.Serialize(e.Payload)).ToArray()).ToArray();
        var batch = new Batch(writes, payloads, results);
        await InsertAsync(transaction.Connection!, batch, cancellationToken, transaction);
        if (results.FirstOrDefault(result => result is not null) is { } conflict)
        {
            throw conflict;
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken) =>
        Reads.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);

    /// <inheritdoc />
    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken) =>
        Reads.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);

    /// <inheritdoc />
    public async ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await _database.WriteAsync(
            $"delete of the events of '{persistenceId}' up to {toSequenceNumber}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_sql.Delete, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = toSequenceNumber });
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);
    }

    /// <summary>Closes <see cref="Reads"/> and lets go of the connection pool; the last store on it (journal, reader or snapshot store) stops the listener and closes the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        await Reads.DisposeAsync();
        await _database.DisposeAsync();
    }

    /// <summary>PostgreSQL keeps microseconds: the 100 ns digit of a .NET timestamp is cut off (rounded down).</summary>
    internal static DateTime ToMicroseconds(DateTimeOffset timestamp)
    {
        var utc = timestamp.UtcDateTime;
        return utc == DateTime.MaxValue ? utc : utc.AddTicks(-(utc.Ticks % TimeSpan.TicksPerMicrosecond));
    }

    private async Task InsertAsync(NpgsqlConnection connection, Batch batch, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        // Without an explicit transaction the batch's statements run in one implicit transaction:
        // the notification goes out if, and when, the rows commit.
        await using var command = new NpgsqlBatch(connection, transaction);
        var insert = new NpgsqlBatchCommand(_sql.Insert);
        insert.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.PersistenceIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.SequenceNumbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.WriterIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<DateTime[]>() { TypedValue = batch.Timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        insert.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.Manifests, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<byte[][]>() { TypedValue = batch.Payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        insert.Parameters.Add(new NpgsqlParameter<string?[]>() { TypedValue = batch.Tags, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.WriteLowest, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        insert.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.EntityTypes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        insert.Parameters.Add(new NpgsqlParameter<int[]>() { TypedValue = batch.Slices, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
        insert.Parameters.Add(new NpgsqlParameter<long?[]>() { TypedValue = batch.FencingTokens, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.BatchCommands.Add(insert);
        if (_database.Options.NotifyOnWrite)
        {
            var notify = new NpgsqlBatchCommand(_sql.Notify);
            notify.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = _database.Channel, NpgsqlDbType = NpgsqlDbType.Text });
            command.BatchCommands.Add(notify);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // A row of an atomic write that starts at or below a deleted history's highest, or a
            // fenced row whose token is older than the newest stored for its id.
            var row = (int)(reader.GetInt64(0) - 1);
            if (reader.GetBoolean(1))
            {
                batch.Fenced(row);
            }
            else
            {
                batch.Conflict(row, batch.SequenceNumbers[row]);
            }
        }

        while (await reader.NextResultAsync(cancellationToken))
        {
            // The notification's empty result.
        }
    }

    private async Task MarkConflictsAsync(NpgsqlConnection connection, Batch batch, PostgresException violation, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_sql.Existing, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.PersistenceIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.SequenceNumbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = (int)(reader.GetInt64(0) - 1);
            batch.Conflict(row, batch.SequenceNumbers[row], violation);
        }
    }
}
