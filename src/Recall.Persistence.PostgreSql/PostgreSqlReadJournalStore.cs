using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The read side of the journal in PostgreSQL (<see cref="IReadJournalStore"/>): replays and the
/// pages <see cref="ReadJournal"/> builds its streams from. A system on <c>UsePostgreSql</c> reads
/// it through <c>system.Persistence().ReadJournal</c>; a journal gives its own as
/// <see cref="PostgreSqlJournal.Reads"/>; a process that only reads opens one on the schema and
/// reads it with <c>new ReadJournal(store)</c>.
/// </summary>
/// <remarks>
/// Its offsets are (transaction id, ordering), and it returns only events of transactions older
/// than every transaction still running, so that an event that commits late is never skipped (see
/// docs/postgresql.md, "Read side"). Every write batch notifies the schema's channel; the first
/// live stream starts one listening connection that wakes the streams on each notification. The
/// listener belongs to the store's connection pool: one for a journal and the readers over its pool.
/// </remarks>
public sealed partial class PostgreSqlReadJournalStore : IReadJournalStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly PostgreSqlJournalSql _sql;
    private long _pagesRead;
    private int _disposed;

    /// <summary>Opens the read side of the schema of <paramref name="options"/>; the schema is checked (and created when allowed) on first use.</summary>
    /// <exception cref="ArgumentException">A setting of <paramref name="options"/> is invalid.</exception>
    public PostgreSqlReadJournalStore(PostgreSqlStoreOptions options, EventSerialization serialization)
        : this(new PostgreSqlDatabase(options), serialization)
    {
    }

    /// <summary>Reads <paramref name="database"/>, holding one reference to it, released on dispose.</summary>
    internal PostgreSqlReadJournalStore(PostgreSqlDatabase database, EventSerialization serialization)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(serialization);
        _database = database;
        _serialization = serialization;
        _sql = new PostgreSqlJournalSql(database.Schema);
    }

    /// <summary>
    /// Notified after every write of a journal on the same connection pool and on every notification
    /// of the schema's channel (writes of other processes). Live streams read this before they wait,
    /// so the first of them starts the listening connection; finite streams never do.
    /// </summary>
    public WriteNotifier Writes
    {
        get
        {
            _database.Listener.EnsureStarted();
            return _database.Writes;
        }
    }

    /// <summary>The listening connection of the read side (for tests).</summary>
    internal PostgreSqlListener Listener => _database.Listener;

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
                await using var command = new NpgsqlCommand(_sql.Highest, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
            },
            cancellationToken);
    }

    /// <summary>Lets go of the connection pool, once; the last store on it (journal, reader or snapshot store) stops the listener and closes the pool.</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? _database.DisposeAsync() : ValueTask.CompletedTask;

    private Task<List<StoredRow>> ReadPageAsync(string persistenceId, long from, long to, long limit, CancellationToken cancellationToken) =>
        _database.ReadAsync(
            $"replay of '{persistenceId}' from {from}",
            async connection =>
            {
                await using var command = new NpgsqlCommand(_sql.Replay, connection);
                command.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = from });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = to });
                command.Parameters.Add(new NpgsqlParameter<long>() { TypedValue = limit });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                var rows = new List<StoredRow>();
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows.Add(ReadRow(reader, 0));
                }

                return rows;
            },
            cancellationToken);

    /// <summary>The stored event in columns <paramref name="column"/> on: sequence number, writer, timestamp, manifest, payload, tags.</summary>
    private static StoredRow ReadRow(NpgsqlDataReader reader, int column) =>
        new(
            reader.GetInt64(column),
            reader.GetString(column + 1),
            reader.GetFieldValue<DateTime>(column + 2),
            reader.GetString(column + 3),
            reader.GetFieldValue<byte[]>(column + 4),
            reader.GetFieldValue<string[]>(column + 5));

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
}
