using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
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
/// <para><b>Read side.</b> The journal is an <see cref="IReadJournalStore"/>. Its offsets are
/// (transaction id, ordering), and it returns only events of transactions older than every
/// transaction still running, so that an event that commits late is never skipped (see
/// docs/postgresql.md, "Read side"). Every write batch notifies the schema's channel; the first
/// live stream starts one listening connection that wakes the streams on each notification.</para>
/// </remarks>
public sealed class PostgreSqlJournal : IReadJournalStore, IFencingJournal, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly WriteNotifier _writes = new();
    private readonly PostgreSqlListener _listener;
    private readonly FollowUp _followUp;
    private readonly string _insertSql;
    private readonly string _notifySql;
    private readonly string _existingSql;
    private readonly string _replaySql;
    private readonly string _highestSql;
    private readonly string _deleteSql;
    private readonly string _newestOffsetSql;
    private readonly string _latestOffsetSql;
    private readonly string _pendingSql;
    private readonly string _eventsByTagSql;
    private readonly string _eventsBySlicesSql;
    private readonly string _idsSql;
    private readonly string _idsAfterOffsetSql;
    private long _pagesRead;

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
        _listener = new PostgreSqlListener(database.ListenerConnectionString, database.Channel, _writes.Notify);
        _followUp = new FollowUp(_writes);
        var s = database.Schema;

        // One row per event, in batch order ($9 is the position of the row's atomic write's first
        // event; rows of one atomic write share it). `refused` holds the rows of atomic writes that
        // start at or below a deleted history's highest sequence number: filtered out as a whole and
        // returned, so that the caller reports them as conflicts. The INSERTs run although the
        // final SELECT does not read them (a data-modifying WITH always runs, once). Each tag of an
        // event becomes a journal_tags row with the event's place in the global order.
        _insertSql = $"""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::bytea[], $7::text[], $8::bigint[], $9::text[], $10::integer[], $11::bigint[])
                    WITH ORDINALITY AS u(persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags, write_lowest, entity_type, slice, fencing_token, position)
            ),
            refused AS (
                SELECT i.position FROM input i
                WHERE EXISTS (SELECT 1 FROM {s}.journal_highest h WHERE h.persistence_id = i.persistence_id AND h.sequence_number >= i.write_lowest)
            ),
            -- Fenced writes raise their id's token and get back the id's newest one; rows with an
            -- older token are stale. The upsert locks the id's row until commit, so two owners
            -- writing at once are ordered, and the later one sees the earlier one's token.
            fenced AS (
                INSERT INTO {s}.journal_fencing (persistence_id, token)
                SELECT persistence_id, max(fencing_token) FROM input WHERE fencing_token IS NOT NULL GROUP BY persistence_id ORDER BY persistence_id
                ON CONFLICT (persistence_id) DO UPDATE SET token = greatest({s}.journal_fencing.token, excluded.token)
                RETURNING persistence_id, token
            ),
            stale AS (
                SELECT i.position FROM input i JOIN fenced f ON f.persistence_id = i.persistence_id
                WHERE i.fencing_token < f.token
            ),
            inserted AS (
                INSERT INTO {s}.journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags, entity_type, slice)
                SELECT i.persistence_id, i.sequence_number, i.writer_id, i.timestamp, i.manifest, i.payload,
                       CASE WHEN i.tags IS NULL THEN ARRAY[]::text[]
                            ELSE ARRAY(SELECT t.tag FROM jsonb_array_elements_text(i.tags::jsonb) WITH ORDINALITY AS t(tag, n) ORDER BY t.n) END,
                       i.entity_type, i.slice
                FROM input i
                WHERE i.position NOT IN (SELECT position FROM refused) AND i.position NOT IN (SELECT position FROM stale)
                ORDER BY i.position
                RETURNING transaction_id, ordering, tags
            ),
            tagged AS (
                INSERT INTO {s}.journal_tags (tag, transaction_id, ordering)
                SELECT DISTINCT t.tag, n.transaction_id, n.ordering FROM inserted n CROSS JOIN LATERAL unnest(n.tags) AS t(tag)
            )
            SELECT position, false FROM refused WHERE position NOT IN (SELECT position FROM stale)
            UNION ALL SELECT position, true FROM stale
            ORDER BY 1
            """;

        // Sent in the insert's implicit transaction (same round trip): listeners hear of it at commit.
        _notifySql = "SELECT pg_notify($1, '')";
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
        // that hold it may go, and remove the deleted events' tag rows with them.
        _deleteSql = $"""
            WITH highest AS (
                INSERT INTO {s}.journal_highest (persistence_id, sequence_number)
                SELECT $1, max(sequence_number) FROM {s}.journal WHERE persistence_id = $1 HAVING max(sequence_number) IS NOT NULL
                ON CONFLICT (persistence_id) DO UPDATE SET sequence_number = GREATEST({s}.journal_highest.sequence_number, excluded.sequence_number)
            ),
            deleted AS (
                DELETE FROM {s}.journal WHERE persistence_id = $1 AND sequence_number <= $2
                RETURNING transaction_id, ordering, tags
            )
            DELETE FROM {s}.journal_tags t USING deleted d CROSS JOIN LATERAL unnest(d.tags) AS dt(tag)
            WHERE t.tag = dt.tag AND t.transaction_id = d.transaction_id AND t.ordering = d.ordering
            """;

        // The read side. Every query returns only final rows: those of transactions below the
        // oldest transaction still running (the snapshot's xmin). Every transaction below it has
        // ended, and any later one gets a higher id, so no row can appear below a row returned.
        const string Final = "transaction_id < pg_snapshot_xmin(pg_current_snapshot())";
        const string EventColumns = "j.persistence_id, j.sequence_number, j.writer_id, j.timestamp, j.manifest, j.payload, j.tags";
        _newestOffsetSql = $"""
            SELECT transaction_id, ordering, {Final} FROM {s}.journal
            ORDER BY transaction_id DESC, ordering DESC LIMIT 1
            """;
        _latestOffsetSql = $"""
            SELECT transaction_id, ordering FROM {s}.journal WHERE {Final}
            ORDER BY transaction_id DESC, ordering DESC LIMIT 1
            """;

        // Whether committed events wait for an older transaction to end (and so are not final yet).
        // As a max(): one probe at the end of journal_transaction_idx, whatever the statistics say
        // (an EXISTS with the same condition was planned as a scan of the whole table when the
        // statistics were older than the rows: 10-30 ms a page on 100,000 events).
        _pendingSql = $"SELECT coalesce(max(transaction_id) >= pg_snapshot_xmin(pg_current_snapshot()), false) FROM {s}.journal";

        // journal_tags (tag, transaction_id, ordering) gives the tag's events in the global order:
        // a range scan from the offset, then each event by its ordering.
        _eventsByTagSql = $"""
            SELECT t.transaction_id, t.ordering, {EventColumns}
            FROM {s}.journal_tags t JOIN {s}.journal j ON j.ordering = t.ordering
            WHERE t.tag = $1 AND (t.transaction_id, t.ordering) > ($2, $3) AND (t.transaction_id, t.ordering) <= ($4, $5) AND t.{Final}
            ORDER BY t.transaction_id, t.ordering LIMIT $6
            """;

        // journal_slices_idx (entity_type, transaction_id, ordering, slice): the entity type's events
        // in the global order; the slice is tested in the index, so other slices cost no table reads.
        _eventsBySlicesSql = $"""
            SELECT j.transaction_id, j.ordering, {EventColumns}
            FROM {s}.journal j
            WHERE j.entity_type = $1 AND (j.transaction_id, j.ordering) > ($2, $3) AND (j.transaction_id, j.ordering) <= ($4, $5)
              AND j.slice BETWEEN $6 AND $7 AND j.{Final}
            ORDER BY j.transaction_id, j.ordering LIMIT $8
            """;

        // Ids of the journal and the snapshots (a skip scan of each primary key: one index probe per
        // id, however many events or snapshots it has) and of journal_highest, in byte order.
        _idsSql = $"""
            WITH RECURSIVE events AS (
                (SELECT persistence_id FROM {s}.journal WHERE persistence_id > $1 ORDER BY persistence_id LIMIT 1)
                UNION ALL
                SELECT (SELECT j.persistence_id FROM {s}.journal j WHERE j.persistence_id > e.persistence_id ORDER BY j.persistence_id LIMIT 1)
                FROM events e WHERE e.persistence_id IS NOT NULL
            ),
            snapshots AS (
                (SELECT persistence_id FROM {s}.snapshots WHERE persistence_id > $1 ORDER BY persistence_id LIMIT 1)
                UNION ALL
                SELECT (SELECT n.persistence_id FROM {s}.snapshots n WHERE n.persistence_id > p.persistence_id ORDER BY n.persistence_id LIMIT 1)
                FROM snapshots p WHERE p.persistence_id IS NOT NULL
            )
            SELECT persistence_id FROM (
                (SELECT persistence_id FROM events WHERE persistence_id IS NOT NULL LIMIT $2)
                UNION
                (SELECT persistence_id FROM {s}.journal_highest WHERE persistence_id > $1 ORDER BY persistence_id LIMIT $2)
                UNION
                (SELECT persistence_id FROM snapshots WHERE persistence_id IS NOT NULL LIMIT $2)
            ) ids
            ORDER BY persistence_id COLLATE "C" LIMIT $2
            """;
        _idsAfterOffsetSql = $"""
            SELECT transaction_id, ordering, persistence_id FROM {s}.journal
            WHERE (transaction_id, ordering) > ($1, $2) AND {Final}
            ORDER BY transaction_id, ordering LIMIT $3
            """;
    }

    /// <summary>Where the journal is: schema, database, host and port.</summary>
    public string Location => _database.Location;

    /// <summary>
    /// Notified after every write of this journal and on every notification of the schema's channel
    /// (writes of other processes). Live streams read this before they wait, so the first of them
    /// starts the listening connection; finite streams never do.
    /// </summary>
    public WriteNotifier Writes
    {
        get
        {
            _listener.EnsureStarted();
            return _writes;
        }
    }

    /// <summary>The listening connection of the read side (for tests).</summary>
    internal PostgreSqlListener Listener => _listener;

    /// <inheritdoc />
    public async ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return await _database.WriteAsync(
            $"raising the fencing token of '{persistenceId}'",
            async connection =>
            {
                await using var command = new NpgsqlCommand(
                    $"""
                    INSERT INTO {_database.Schema}.journal_fencing AS f (persistence_id, token) VALUES ($1, $2)
                    ON CONFLICT (persistence_id) DO UPDATE SET token = greatest(f.token, excluded.token)
                    RETURNING token
                    """,
                    connection);
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
            _writes.Notify();
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

    /// <summary>
    /// The offset of the newest event committed when called, once it is final: while a transaction
    /// older than it still runs, an event could yet commit before it, so this waits (polling, at most
    /// <see cref="PostgreSqlStoreOptions.CommandTimeout"/>) for every such transaction to end. A
    /// finite stream thus ends at what was stored when it started, however busy the server. If the
    /// wait runs out (a transaction that stays open), the newest event that is final then.
    /// </summary>
    public async ValueTask<Offset> ReadLatestOffsetAsync(CancellationToken cancellationToken) =>
        await _database.ReadAsync(
            "read of the latest offset",
            async connection =>
            {
                Offset newest;
                await using (var command = new NpgsqlCommand(_newestOffsetSql, connection))
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                {
                    if (!await reader.ReadAsync(cancellationToken))
                    {
                        return Offset.Start;
                    }

                    newest = ReadOffset(reader, 0);
                    if (reader.GetBoolean(2))
                    {
                        return newest;
                    }
                }

                // Concurrent writes are usually milliseconds from their commit: poll briefly, then less often.
                var deadline = Stopwatch.GetTimestamp() + (long)(_database.Options.CommandTimeout.TotalSeconds * Stopwatch.Frequency);
                var pause = TimeSpan.FromMilliseconds(1);
                await using (var xmin = new NpgsqlCommand("SELECT pg_snapshot_xmin(pg_current_snapshot())", connection))
                {
                    while (Stopwatch.GetTimestamp() < deadline)
                    {
                        await Task.Delay(pause, cancellationToken);
                        if ((long)(ulong)(await xmin.ExecuteScalarAsync(cancellationToken))! > newest.Transaction)
                        {
                            return newest;
                        }

                        pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
                    }
                }

                await using (var command = new NpgsqlCommand(_latestOffsetSql, connection))
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                {
                    return await reader.ReadAsync(cancellationToken) ? ReadOffset(reader, 0) : Offset.Start;
                }
            },
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<OffsetEvent>> ReadEventsAsync(EventFilter filter, Offset after, Offset upTo, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        if (limit <= 0 || after >= upTo)
        {
            return [];
        }

        // Read the page, return the connection, then deserialize.
        var rows = await _database.ReadAsync(
            filter.Tag is { } tag ? $"read of the events tagged '{tag}' after offset {after}" : $"read of the events of '{filter.EntityType}' in slices {filter.MinSlice}..{filter.MaxSlice} after offset {after}",
            async connection =>
            {
                await using var batch = new NpgsqlBatch(connection);

                // The page must come from an ordered index scan that stops at the limit. With
                // statistics older than the rows (a journal that grew fast, a bulk load) the planner
                // takes a bitmap scan of every row after the offset and sorts them all, once per
                // page: a catch-up of 100,000 events took 3-5 s instead of 0.3. SET LOCAL lasts for
                // this batch only (one implicit transaction).
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL enable_bitmapscan = off"));
                var query = new NpgsqlBatchCommand(filter.Tag is null ? _eventsBySlicesSql : _eventsByTagSql);
                query.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = filter.Tag ?? filter.EntityType, NpgsqlDbType = NpgsqlDbType.Text });
                AddOffset(query.Parameters, after);
                AddOffset(query.Parameters, upTo);
                if (filter.Tag is null)
                {
                    query.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = filter.MinSlice });
                    query.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = filter.MaxSlice });
                }

                query.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = limit });
                batch.BatchCommands.Add(query);
                batch.BatchCommands.Add(new NpgsqlBatchCommand(_pendingSql));
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                var page = new List<(Offset Offset, string PersistenceId, StoredRow Row)>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    page.Add((
                        ReadOffset(reader, 0),
                        reader.GetString(2),
                        new StoredRow(
                            reader.GetInt64(3),
                            reader.GetString(4),
                            reader.GetFieldValue<DateTime>(5),
                            reader.GetString(6),
                            reader.GetFieldValue<byte[]>(7),
                            reader.GetFieldValue<string[]>(8))));
                }

                await reader.NextResultAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                _followUp.Read(caughtUp: page.Count < limit, pending: reader.GetBoolean(0));
                return page;
            },
            cancellationToken);

        var events = new OffsetEvent[rows.Count];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = new OffsetEvent(rows[i].Offset, ToRepr(rows[i].PersistenceId, rows[i].Row));
        }

        Interlocked.Increment(ref _pagesRead);
        return events;
    }

    /// <summary>Pages of <see cref="ReadEventsAsync"/> read so far: lets tests wait for a number of polls instead of a time.</summary>
    internal long PagesRead => Interlocked.Read(ref _pagesRead);

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ReadPersistenceIdsAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        return await _database.ReadAsync(
            "read of the persistence ids",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_idsSql, connection);

                // Ids are never empty, so "" is before every id.
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = after ?? "", NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = limit });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                var ids = new List<string>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetString(0));
                }

                return ids;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PersistenceIdAt>> ReadPersistenceIdsAsync(Offset after, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        return await _database.ReadAsync(
            $"read of the persistence ids after offset {after}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_idsAfterOffsetSql, connection);
                AddOffset(command.Parameters, after);
                command.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = limit });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                var ids = new List<PersistenceIdAt>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(new PersistenceIdAt(ReadOffset(reader, 0), reader.GetString(2)));
                }

                return ids;
            },
            cancellationToken);
    }

    /// <summary>Stops listening and releases the connection pool (shared with the snapshot store: the last one closes it).</summary>
    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
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
        var insert = new NpgsqlBatchCommand(_insertSql);
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
            var notify = new NpgsqlBatchCommand(_notifySql);
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

    /// <summary>An offset as two parameters: the transaction id (xid8) and the ordering.</summary>
    private static void AddOffset(NpgsqlParameterCollection parameters, Offset offset)
    {
        // Transaction ids are 64-bit and never near 2^63, so an offset's non-negative long holds any.
        parameters.Add(new NpgsqlParameter<ulong>() { TypedValue = (ulong)Math.Max(0, offset.Transaction), NpgsqlDbType = NpgsqlDbType.Xid8 });
        parameters.Add(new NpgsqlParameter<long>() { TypedValue = offset.Ordering });
    }

    /// <summary>The offset in columns <paramref name="column"/> (transaction_id) and the next (ordering).</summary>
    private static Offset ReadOffset(NpgsqlDataReader reader, int column) =>
        new((long)reader.GetFieldValue<ulong>(column), reader.GetInt64(column + 1));

    /// <summary>
    /// Wakes live streams again when they caught up while committed events were not final yet: a
    /// notification (or this process's own write) can arrive while an older transaction elsewhere
    /// is still finishing, and that transaction may send no notification of its own (another
    /// schema's, another application's, a rolled-back one). Rather than leave the streams to their
    /// poll interval, wake them after 5 ms, then at doubling intervals up to 1 s while events stay
    /// pending. One timer for all streams of the journal.
    /// </summary>
    private sealed class FollowUp(WriteNotifier writes)
    {
        private static readonly TimeSpan First = TimeSpan.FromMilliseconds(5);
        private static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);
        private long _nextDelayTicks = First.Ticks;
        private int _scheduled;

        /// <summary>A read of the live tail finished: <paramref name="pending"/> when committed events were not final yet.</summary>
        public void Read(bool caughtUp, bool pending)
        {
            if (!pending)
            {
                Volatile.Write(ref _nextDelayTicks, First.Ticks);
                return;
            }

            if (!caughtUp || Interlocked.Exchange(ref _scheduled, 1) == 1)
            {
                return;
            }

            var delay = Volatile.Read(ref _nextDelayTicks);
            Volatile.Write(ref _nextDelayTicks, Math.Min(delay * 2, Longest.Ticks));
            _ = WakeLaterAsync(TimeSpan.FromTicks(delay));
        }

        private async Task WakeLaterAsync(TimeSpan delay)
        {
            await Task.Delay(delay).ConfigureAwait(false);
            Volatile.Write(ref _scheduled, 0);
            writes.Notify();
        }
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
            EntityTypes = new string[Rows];
            Slices = new int[Rows];
            FencingTokens = new long?[Rows];
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
                    EntityTypes[row] = Query.Slices.EntityTypeOf(repr.PersistenceId);
                    Slices[row] = Query.Slices.Of(repr.PersistenceId);
                    FencingTokens[row] = writes[i].FencingToken;
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

        public string[] EntityTypes { get; }

        public int[] Slices { get; }

        public long?[] FencingTokens { get; }

        /// <summary>Marks the atomic write of <paramref name="row"/> as refused for its stale fencing token.</summary>
        public void Fenced(int row)
        {
            var write = _writes[_writeOfRow[row]];
            _results[_writeOfRow[row]] ??= new FencedWriteException(write.PersistenceId, write.LowestSequenceNumber, write.FencingToken ?? 0);
        }

        /// <summary>Marks the atomic write of <paramref name="row"/> as a conflict at <paramref name="sequenceNumber"/> (the first one found wins).</summary>
        public void Conflict(int row, long sequenceNumber, Exception? inner = null)
        {
            var write = _writeOfRow[row];
            _results[write] ??= new SequenceConflictException(_writes[write].PersistenceId, sequenceNumber, inner);
        }
    }
}
