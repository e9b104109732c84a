using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// The read side of the journal in a SQLite file (<see cref="IReadJournalStore"/>): replays and the
/// pages <see cref="ReadJournal"/> builds its streams from. A system on <c>UseSqlite</c> reads it
/// through <c>system.Persistence().ReadJournal</c>; a journal gives its own as
/// <see cref="SqliteJournal.Reads"/>; a process that only reads opens one on the file, best with
/// <see cref="SqliteStoreOptions.ReadOnly"/>, and reads it with <c>new ReadJournal(store)</c>.
/// </summary>
public sealed partial class SqliteReadJournalStore : IReadJournalStore, IAsyncDisposable
{
    /// <summary>Events read per query of a replay.</summary>
    internal const int ReplayPageSize = 5_000;

    private readonly SqliteDatabase _database;
    private readonly EventSerialization _serialization;
    private readonly bool _ownsDatabase;

    /// <summary>Opens the file of <paramref name="options"/> to read it (created, with the schema, unless <see cref="SqliteStoreOptions.ReadOnly"/> or not <see cref="SqliteStoreOptions.CreateIfMissing"/>).</summary>
    public SqliteReadJournalStore(SqliteStoreOptions options, EventSerialization serialization)
        : this(new SqliteDatabase(options), serialization, ownsDatabase: true)
    {
    }

    internal SqliteReadJournalStore(SqliteDatabase database, EventSerialization serialization, bool ownsDatabase)
    {
        _database = database;
        _serialization = serialization;
        _ownsDatabase = ownsDatabase;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Notified after every committed write batch of a journal on the same database (the journal
    /// whose <see cref="SqliteJournal.Reads"/> this is, or the journal of the same <c>UseSqlite</c>);
    /// writes of other processes, or of a journal that opened the file on its own, are found by polling.
    /// </remarks>
    public WriteNotifier Writes => _database.Writes;

    /// <inheritdoc />
    public async IAsyncEnumerable<PersistentRepr> ReplayAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        if (max <= 0 || fromSequenceNumber > toSequenceNumber)
        {
            yield break;
        }

        var next = fromSequenceNumber;
        var left = max;
        while (left > 0 && next <= toSequenceNumber)
        {
            // A page at a time, each in a read transaction of its own and read off the caller's
            // thread: a long history neither pins the write-ahead log for the whole replay (the
            // writer's checkpoints can start it over between pages) nor blocks the recovering
            // actor's thread, so that RecoveryEventTimeout can end a read that waits on the file.
            var (from, limit) = (next, Math.Min(left, ReplayPageSize));
            var page = await _database.ReadAsync(connection => ReadPage(connection, persistenceId, from, toSequenceNumber, limit), cancellationToken);
            foreach (var repr in page)
            {
                yield return repr;
            }

            if (page.Count < limit)
            {
                yield break;
            }

            left -= page.Count;
            next = page[^1].SequenceNumber + 1;
        }
    }

    /// <inheritdoc />
    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return new ValueTask<long>(_database.ReadAsync(connection => ReadHighest(connection, persistenceId), cancellationToken));
    }

    /// <summary>Closes the file when this store opened it; one over a journal's database leaves it to the journal.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsDatabase)
        {
            await _database.DisposeAsync();
        }
    }

    private List<PersistentRepr> ReadPage(SqliteConnection connection, string persistenceId, long from, long to, long limit)
    {
        using var command = connection.CreateCommand();
        command.CommandText = SqliteJournalSql.Replay;
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$from", from);
        command.Parameters.AddWithValue("$to", to);
        command.Parameters.AddWithValue("$max", limit);
        var page = new List<PersistentRepr>((int)Math.Min(limit, ReplayPageSize));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            page.Add(ReadEvent(reader, persistenceId));
        }

        return page;
    }

    private static long ReadHighest(SqliteConnection connection, string persistenceId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = SqliteJournalSql.Highest;
        command.Parameters.AddWithValue("$pid", persistenceId);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The event in the columns sequence number, writer, timestamp, manifest, payload and tags (0 to 5).</summary>
    private PersistentRepr ReadEvent(SqliteDataReader reader, string persistenceId)
    {
        var sequenceNumber = reader.GetInt64(0);
        var manifest = reader.GetString(3);
        object payload;
        try
        {
            payload = _serialization.Deserialize(manifest, (byte[])reader.GetValue(4));
        }
        catch (Exception exception)
        {
            throw new EventReadException(persistenceId, sequenceNumber, manifest, exception);
        }

        return new PersistentRepr(persistenceId, sequenceNumber, payload)
        {
            WriterId = reader.GetString(1),
            Timestamp = new DateTimeOffset(reader.GetInt64(2), TimeSpan.Zero),
            Manifest = manifest,
            Tags = reader.IsDBNull(5) ? [] : JsonSerializer.Deserialize<string[]>(reader.GetString(5)) ?? [],
        };
    }
}
