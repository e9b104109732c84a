using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Query;

namespace Recall.Persistence.PostgreSql;

/// <summary>Event pages in the global order, offsets and persistence ids.</summary>
public sealed partial class PostgreSqlReadJournalStore
{
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
                await using (var command = new NpgsqlCommand(_sql.NewestOffset, connection))
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

                await using (var command = new NpgsqlCommand(_sql.LatestOffset, connection))
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
                // page: a catch-up of 100,000 events took 3-5 s instead of 0.3. The setting is local
                // to the batch's implicit transaction; set_config does what SET LOCAL would without
                // the warning SET LOCAL writes to the server's log outside a transaction block (one
                // line per page read).
                batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('enable_bitmapscan', 'off', true)"));
                var query = new NpgsqlBatchCommand(filter.Tag is null ? _sql.EventsBySlices : _sql.EventsByTag);
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
                batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.Pending));
                await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
                await reader.NextResultAsync(cancellationToken);
                var page = new List<(Offset Offset, string PersistenceId, StoredRow Row)>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    page.Add((ReadOffset(reader, 0), reader.GetString(2), ReadRow(reader, 3)));
                }

                await reader.NextResultAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                _database.WakeUntilFinal.Read(caughtUp: page.Count < limit, pending: reader.GetBoolean(0));
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
                await using var command = new NpgsqlCommand(_sql.Ids, connection);

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
                await using var command = new NpgsqlCommand(_sql.IdsAfterOffset, connection);
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
}
