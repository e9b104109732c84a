using System.Text.Json;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// Reads a journal file for people and tools (the <c>recall journal</c> commands): opened read-only,
/// never creating or changing the file; refuses files that are missing, not Recall journals, or newer.
/// SQLite reads are synchronous: each call runs on the thread pool, so a caller's progress display keeps moving.
/// </summary>
public sealed class SqliteJournalInspector : IJournalInspector, IDisposable
{
    private readonly SqliteConnection _connection;

    /// <summary>Opens <paramref name="path"/> read-only.</summary>
    /// <exception cref="SqliteStoreException">The file is missing, not a database, not a Recall journal, or of a newer schema.</exception>
    public SqliteJournalInspector(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = System.IO.Path.GetFullPath(path);
        _connection = SqliteReadOnlyConnection.Open(Path);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'recall_schema'";
            if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
            {
                throw new SqliteStoreException($"'{Path}' is not a Recall journal (it has no recall_schema table).");
            }

            command.CommandText = "SELECT max(version) FROM recall_schema";
            var version = Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (version > SqliteDatabase.SchemaVersion)
            {
                throw new SqliteStoreException($"'{Path}' has schema version {version}, written by a newer Recall; this version reads up to {SqliteDatabase.SchemaVersion}.");
            }
        }
        catch (SqliteException exception)
        {
            _connection.Dispose();
            throw SqliteDatabase.Describe(Path, exception);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Location => Path;

    /// <inheritdoc />
    public Task<IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)>> PersistenceIdsAsync(CancellationToken cancellationToken = default) =>
        Task.Run(PersistenceIds, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEventRow>> EventsAsync(string persistenceId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        return Task.Run<IReadOnlyList<StoredEventRow>>(() => Query("WHERE persistence_id = $pid ORDER BY sequence_number", command => command.Parameters.AddWithValue("$pid", persistenceId)), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredEventRow>> TailAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Task.Run<IReadOnlyList<StoredEventRow>>(
            () =>
            {
                var newestFirst = Query("ORDER BY ordering DESC LIMIT $count", command => command.Parameters.AddWithValue("$count", count));
                newestFirst.Reverse();
                return newestFirst;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Leases.LeaseRecord>> LeasesAsync(CancellationToken cancellationToken = default) => Task.Run(Leases, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Membership.MemberRecord>> MembersAsync(CancellationToken cancellationToken = default) => Task.Run(Members, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Sharding.ShardSummary>> ShardsAsync(CancellationToken cancellationToken = default) => Task.Run(Shards, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)> PersistenceIds()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = """
            SELECT persistence_id, count(*), max(sequence_number) FROM journal
            GROUP BY persistence_id ORDER BY min(ordering)
            """;
        using var reader = command.ExecuteReader();
        var ids = new List<(string, long, long)>();
        while (reader.Read())
        {
            ids.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return ids;
    }

    private IReadOnlyList<Leases.LeaseRecord> Leases()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cluster_leases'";
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            return [];
        }

        command.CommandText = "SELECT name, holder, token, expires_at FROM cluster_leases ORDER BY name";
        using var reader = command.ExecuteReader();
        var leases = new List<Leases.LeaseRecord>();
        while (reader.Read())
        {
            leases.Add(new(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
        }

        return leases;
    }

    private IReadOnlyList<Membership.MemberRecord> Members()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cluster_members'";
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            return [];
        }

        command.CommandText = $"SELECT {SqliteMembershipStore.Columns} FROM cluster_members ORDER BY address";
        using var reader = command.ExecuteReader();
        return SqliteMembershipStore.Records(reader);
    }

    private IReadOnlyList<Sharding.ShardSummary> Shards()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'cluster_shards'";
        if (Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            return [];
        }

        command.CommandText = Sharding.ShardSummary.Sql("");
        using var reader = command.ExecuteReader();
        var shards = new List<Sharding.ShardSummary>();
        while (reader.Read())
        {
            shards.Add(new Sharding.ShardSummary(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt32(3)));
        }

        return shards;
    }

    private List<StoredEventRow> Query(string where, Action<SqliteCommand> parameters)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = $"SELECT ordering, persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags FROM journal {where}";
        parameters(command);
        using var reader = command.ExecuteReader();
        var rows = new List<StoredEventRow>();
        while (reader.Read())
        {
            var payload = (byte[])reader.GetValue(6);
            rows.Add(new StoredEventRow(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetInt64(2),
                reader.GetString(3),
                new DateTimeOffset(reader.GetInt64(4), TimeSpan.Zero),
                reader.GetString(5),
                StoredEventRow.PayloadAsText(payload),
                reader.IsDBNull(7) ? [] : JsonSerializer.Deserialize<string[]>(reader.GetString(7)) ?? []));
        }

        return rows;
    }
}
