using System.Text.Json;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;

namespace Recall.Persistence.Sqlite;

/// <summary>
/// Reads a journal file for people and tools (the <c>recall journal</c> commands): opened read-only,
/// never creating or changing the file; refuses files that are missing, not Recall journals, or newer.
/// </summary>
public sealed class SqliteJournalInspector : IDisposable
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

    /// <summary>Every persistence id with stored events, in order of first appearance.</summary>
    public IReadOnlyList<(string PersistenceId, long Events, long HighestSequenceNumber)> PersistenceIds()
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

    /// <summary>The stored events of <paramref name="persistenceId"/> in sequence order.</summary>
    public IReadOnlyList<StoredEventRow> Events(string persistenceId) =>
        Query("WHERE persistence_id = $pid ORDER BY sequence_number", command => command.Parameters.AddWithValue("$pid", persistenceId));

    /// <summary>The last <paramref name="count"/> events of the file, in global order.</summary>
    public IReadOnlyList<StoredEventRow> Tail(int count)
    {
        var newestFirst = Query("ORDER BY ordering DESC LIMIT $count", command => command.Parameters.AddWithValue("$count", count));
        newestFirst.Reverse();
        return newestFirst;
    }

    /// <summary>The cluster's leases in the file, by name (none in a file of schema version 2 or older).</summary>
    public IReadOnlyList<Leases.LeaseRecord> Leases()
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

    /// <summary>The cluster's members in the file, by address (none in a file without the table).</summary>
    public IReadOnlyList<Membership.MemberRecord> Members()
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

    /// <summary>The shards of cluster sharding: home and remembered entities (none in a file without the tables).</summary>
    public IReadOnlyList<Sharding.ShardSummary> Shards()
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

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

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
