using System.Runtime.CompilerServices;
using System.Text.Json;
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
/// </remarks>
public sealed class PostgreSqlJournal : IJournal, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly string _insertSql;
    private readonly string _existingSql;
    private readonly string _replaySql;
    private readonly string _highestSql;
    private readonly string _deleteSql;

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
        var s = database.Schema;

        // One row per event, in batch order ($9 is the position of the row's atomic write's first
        // event; rows of one atomic write share it). `refused` holds the rows of atomic writes that
        // start at or below a deleted history's highest sequence number: filtered out as a whole and
        // returned, so that the caller reports them as conflicts. The INSERT runs although the
        // final SELECT does not read it (a data-modifying WITH always runs, once).
        _insertSql = $"""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::bytea[], $7::text[], $8::bigint[])
                    WITH ORDINALITY AS u(persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags, write_lowest, position)
            ),
            refused AS (
                SELECT i.position FROM input i
                WHERE EXISTS (SELECT 1 FROM {s}.journal_highest h WHERE h.persistence_id = i.persistence_id AND h.sequence_number >= i.write_lowest)
            ),
            inserted AS (
                INSERT INTO {s}.journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags)
                SELECT i.persistence_id, i.sequence_number, i.writer_id, i.timestamp, i.manifest, i.payload,
                       CASE WHEN i.tags IS NULL THEN ARRAY[]::text[]
                            ELSE ARRAY(SELECT t.tag FROM jsonb_array_elements_text(i.tags::jsonb) WITH ORDINALITY AS t(tag, n) ORDER BY t.n) END
                FROM input i
                WHERE i.position NOT IN (SELECT position FROM refused)
                ORDER BY i.position
            )
            SELECT position FROM refused ORDER BY position
            """;
        _existingSql = $"""
            SELECT u.position FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(persistence_id, sequence_number, position)
            WHERE EXISTS (SELECT 1 FROM {s}.journal j WHERE j.persistence_id = u.persistence_id AND j.sequence_number = u.sequence_number)
               OR EXISTS (SELECT 1 FROM {s}.journal_highest h WHERE h.persistence_id = u.persistence_id AND h.sequence_number >= u.sequence_number)
            ORDER BY u.position
            """;
        _replaySql = $"""
            SELECT sequence_number, writer_id, timestamp, manifest, payload, tags FROM {s}.journal
            WHERE persistence_id = $1 AND sequence_number >= $2 AND sequence_number <= $3
            ORDER BY sequence_number LIMIT $4
            """;
        _highestSql = $"""
            SELECT GREATEST(
                (SELECT max(sequence_number) FROM {s}.journal WHERE persistence_id = $1),
                (SELECT sequence_number FROM {s}.journal_highest WHERE persistence_id = $1),
                0)
            """;

        // One statement, so one transaction: remember the highest sequence number before the rows
        // that hold it may go.
        _deleteSql = $"""
            WITH highest AS (
                INSERT INTO {s}.journal_highest (persistence_id, sequence_number)
                SELECT $1, max(sequence_number) FROM {s}.journal WHERE persistence_id = $1 HAVING max(sequence_number) IS NOT NULL
                ON CONFLICT (persistence_id) DO UPDATE SET sequence_number = GREATEST({s}.journal_highest.sequence_number, excluded.sequence_number)
            )
            DELETE FROM {s}.journal WHERE persistence_id = $1 AND sequence_number <= $2
            """;
    }

    /// <summary>Where the journal is: schema, database, host and port.</summary>
    public string Location => _database.Location;

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

        return await _database.WriteAsync(
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
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<PersistentRepr> ReplayAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        var pageSize = _database.Options.ReplayPageSize;
        while (max > 0 && fromSequenceNumber <= toSequenceNumber)
        {
            // Read a page, return the connection, then deserialize and hand out the events: a slow
            // consumer (a recovering actor) never holds a pooled connection.
            var page = await ReadPageAsync(persistenceId, fromSequenceNumber, toSequenceNumber, Math.Min(max, pageSize), cancellationToken);
            foreach (var row in page)
            {
                yield return ToRepr(persistenceId, row);
            }

            if (page.Count < Math.Min(max, pageSize))
            {
                yield break;
            }

            max -= page.Count;
            fromSequenceNumber = page[^1].SequenceNumber + 1;
        }
    }

    /// <inheritdoc />
    public async ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return await _database.ReadAsync(
            $"read of the highest sequence number of '{persistenceId}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_highestSql, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        await _database.WriteAsync(
            $"delete of the events of '{persistenceId}' up to {toSequenceNumber}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_deleteSql, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = toSequenceNumber });
                return await command.ExecuteNonQueryAsync(cancellationToken);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    /// <summary>PostgreSQL keeps microseconds: the 100 ns digit of a .NET timestamp is cut off (rounded down).</summary>
    internal static DateTime ToMicroseconds(DateTimeOffset timestamp)
    {
        var utc = timestamp.UtcDateTime;
        return utc == DateTime.MaxValue ? utc : utc.AddTicks(-(utc.Ticks % TimeSpan.TicksPerMicrosecond));
    }

    private async Task InsertAsync(NpgsqlConnection connection, Batch batch, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_insertSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.PersistenceIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.SequenceNumbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.WriterIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]>() { TypedValue = batch.Timestamps, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.Manifests, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<byte[][]>() { TypedValue = batch.Payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<string?[]>() { TypedValue = batch.Tags, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.WriteLowest, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            // A row of an atomic write that starts at or below a deleted history's highest.
            var row = (int)(reader.GetInt64(0) - 1);
            batch.Conflict(row, batch.SequenceNumbers[row]);
        }
    }

    private async Task MarkConflictsAsync(NpgsqlConnection connection, Batch batch, PostgresException violation, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_existingSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = batch.PersistenceIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<long[]>() { TypedValue = batch.SequenceNumbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = (int)(reader.GetInt64(0) - 1);
            batch.Conflict(row, batch.SequenceNumbers[row], violation);
        }
    }

    private Task<List<StoredRow>> ReadPageAsync(string persistenceId, long from, long to, long limit, CancellationToken cancellationToken) =>
        _database.ReadAsync(
            $"replay of '{persistenceId}' from {from}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_replaySql, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = from });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = to });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = limit });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                var rows = new List<StoredRow>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows.Add(new StoredRow(
                        reader.GetInt64(0),
                        reader.GetString(1),
                        reader.GetFieldValue<DateTime>(2),
                        reader.GetString(3),
                        reader.GetFieldValue<byte[]>(4),
                        reader.GetFieldValue<string[]>(5)));
                }

                return rows;
            },
            cancellationToken);

    private PersistentRepr ToRepr(string persistenceId, StoredRow row)
    {
        object payload;
        try
        {
            payload = _serialization.Deserialize(row.Manifest, row.Payload);
        }
        catch (Exception exception)
        {
            throw new EventReadException(persistenceId, row.SequenceNumber, row.Manifest, exception);
        }

        return new PersistentRepr(persistenceId, row.SequenceNumber, payload)
        {
            WriterId = row.WriterId,
            Timestamp = new DateTimeOffset(DateTime.SpecifyKind(row.Timestamp, DateTimeKind.Utc)),
            Manifest = row.Manifest,
            Tags = row.Tags,
        };
    }

    private sealed record StoredRow(long SequenceNumber, string WriterId, DateTime Timestamp, string Manifest, byte[] Payload, string[] Tags);

    /// <summary>The rows of the atomic writes that are still to be stored, as the columns the statement takes.</summary>
    private sealed class Batch
    {
        private readonly int[] _writeOfRow;
        private readonly IReadOnlyList<AtomicWrite> _writes;
        private readonly Exception?[] _results;

        public Batch(IReadOnlyList<AtomicWrite> writes, SerializedPayload[][] payloads, Exception?[] results)
        {
            _writes = writes;
            _results = results;
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is null)
                {
                    Rows += writes[i].Events.Count;
                }
            }

            _writeOfRow = new int[Rows];
            PersistenceIds = new string[Rows];
            SequenceNumbers = new long[Rows];
            WriterIds = new string[Rows];
            Timestamps = new DateTime[Rows];
            Manifests = new string[Rows];
            Payloads = new byte[Rows][];
            Tags = new string?[Rows];
            WriteLowest = new long[Rows];
            var row = 0;
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is not null)
                {
                    continue;
                }

                for (var e = 0; e < writes[i].Events.Count; e++, row++)
                {
                    var repr = writes[i].Events[e];
                    _writeOfRow[row] = i;
                    PersistenceIds[row] = repr.PersistenceId;
                    SequenceNumbers[row] = repr.SequenceNumber;
                    WriterIds[row] = repr.WriterId;
                    Timestamps[row] = ToMicroseconds(repr.Timestamp);
                    Manifests[row] = payloads[i][e].Manifest;
                    Payloads[row] = payloads[i][e].Data;
                    Tags[row] = repr.Tags.Count == 0 ? null : JsonSerializer.Serialize(repr.Tags);
                    WriteLowest[row] = writes[i].LowestSequenceNumber;
                }
            }
        }

        public int Rows { get; }

        public string[] PersistenceIds { get; }

        public long[] SequenceNumbers { get; }

        public string[] WriterIds { get; }

        public DateTime[] Timestamps { get; }

        public string[] Manifests { get; }

        public byte[][] Payloads { get; }

        public string?[] Tags { get; }

        public long[] WriteLowest { get; }

        /// <summary>Marks the atomic write of <paramref name="row"/> as a conflict at <paramref name="sequenceNumber"/> (the first one found wins).</summary>
        public void Conflict(int row, long sequenceNumber, Exception? inner = null)
        {
            var write = _writeOfRow[row];
            _results[write] ??= new SequenceConflictException(_writes[write].PersistenceId, sequenceNumber, inner);
        }
    }
}
