using System.Globalization;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;

namespace Recall.Persistence.Sqlite;

// The pages ReadJournal builds its streams from.
//
// Why Offset.Sequence(ordering) is final the moment a reader sees it: SQLite lets one transaction
// write at a time, across every connection and every process that has the file open (the WAL
// write lock), and a writer holds that lock from its first insert until it commits or rolls back.
// ordering is AUTOINCREMENT, so the events of each commit get orderings above those of every
// earlier commit; a rolled-back transaction gives its numbers back, and nobody saw them. A
// reader's snapshot is therefore always "every committed event up to some ordering", and no event
// that commits later can take an ordering at or below one already read: a stream that resumes
// after an ordering never skips a late commit, and the offset needs no transaction part.
//
// Every page is read whole on a pooled connection that is closed before the page is returned, so
// a slow consumer never keeps a read transaction open (which in WAL mode would stop checkpoints
// from recycling the log while the writer goes on).
public sealed partial class SqliteReadJournalStore
{
    /// <inheritdoc />
    public async ValueTask<Offset> ReadLatestOffsetAsync(CancellationToken cancellationToken)
    {
        await using var connection = _database.OpenReader();
        return Offset.Sequence(await LatestOrderingAsync(connection, cancellationToken));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<OffsetEvent>> ReadEventsAsync(EventFilter filter, Offset after, Offset upTo, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var from = OrderingOf(after);
        var to = OrderingOf(upTo);
        var page = new List<OffsetEvent>(Math.Clamp(limit, 0, 64));
        if (limit <= 0 || from >= to)
        {
            return page;
        }

        await using var connection = _database.OpenReader();
        if (filter.Tag is { } tag)
        {
            await ReadEventsAsync(connection, SqliteJournalSql.EventsByTag, p => p.AddWithValue("$tag", tag), from, to, limit, page, cancellationToken);
            return page;
        }

        await ReadEventsAsync(
            connection,
            SqliteJournalSql.EventsBySlices,
            p =>
            {
                p.AddWithValue("$entityType", filter.EntityType);
                p.AddWithValue("$minSlice", filter.MinSlice);
                p.AddWithValue("$maxSlice", filter.MaxSlice);
            },
            from,
            to,
            limit,
            page,
            cancellationToken);
        return page;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ReadPersistenceIdsAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        var ids = new List<string>(Math.Clamp(limit, 0, 64));
        if (limit <= 0)
        {
            return ids;
        }

        // Each part takes its first ids after the key before the union removes duplicates, so a
        // page costs about its own size whatever the number of ids (the ids' indexes are ordered).
        await using var connection = _database.OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = after is null ? SqliteJournalSql.FirstIds : SqliteJournalSql.Ids;
        if (after is not null)
        {
            command.Parameters.AddWithValue("$after", after);
        }

        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<PersistenceIdAt>> ReadPersistenceIdsAsync(Offset after, int limit, CancellationToken cancellationToken)
    {
        var page = new List<PersistenceIdAt>(Math.Clamp(limit, 0, 64));
        if (limit <= 0)
        {
            return page;
        }

        await using var connection = _database.OpenReader();
        await using var command = connection.CreateCommand();
        command.CommandText = SqliteJournalSql.IdsAfterOffset;
        command.Parameters.AddWithValue("$after", OrderingOf(after));
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(new PersistenceIdAt(Offset.Sequence(reader.GetInt64(0)), reader.GetString(1)));
        }

        return page;
    }

    /// <summary>
    /// The ordering an offset stands for. Offsets of this store have no transaction part; one with
    /// a transaction part comes from a store with transaction ids and lies after every ordering
    /// here (as in the in-memory store): nothing comes after it, and as an upper bound it bounds nothing.
    /// </summary>
    private static long OrderingOf(Offset offset) => offset.Transaction > 0 ? long.MaxValue : offset.Ordering;

    private async Task<long> LatestOrderingAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = SqliteJournalSql.LatestOrdering;
        try
        {
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
        }
        catch (SqliteException exception)
        {
            throw _database.Describe(exception);
        }
    }

    private async Task ReadEventsAsync(
        SqliteConnection connection, string sql, Action<SqliteParameterCollection> filter, long after, long upTo, int limit, List<OffsetEvent> page, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        filter(command.Parameters);
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$upTo", upTo);
        command.Parameters.AddWithValue("$limit", limit);
        await using var reader = await ExecuteReaderAsync(command, cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(new OffsetEvent(Offset.Sequence(reader.GetInt64(6)), ReadEvent(reader, reader.GetString(7))));
        }
    }

    private async Task<SqliteDataReader> ExecuteReaderAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        try
        {
            return await command.ExecuteReaderAsync(cancellationToken);
        }
        catch (SqliteException exception)
        {
            throw _database.Describe(exception);
        }
    }
}
