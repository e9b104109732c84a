namespace Recall.Persistence.Sqlite;

/// <summary>The statements of the SQLite journal: its writes, its replay, and its read side.</summary>
internal static class SqliteJournalSql
{
    /// <summary>One event.</summary>
    public const string Insert = """
        INSERT INTO journal (persistence_id, sequence_number, writer_id, timestamp, manifest, payload, tags, entity_type, slice)
        VALUES ($pid, $seq, $writer, $ts, $manifest, $payload, $tags, $entity, $slice)
        """;

    /// <summary>One tag of the event just inserted, by its place in the global order.</summary>
    public const string InsertTag = "INSERT OR IGNORE INTO journal_tags (tag, ordering) VALUES ($tag, last_insert_rowid())";

    /// <summary>Raises the fencing token of an id; a lower token changes nothing.</summary>
    public const string Fence = """
        INSERT INTO journal_fencing (persistence_id, token) VALUES ($pid, $token)
        ON CONFLICT (persistence_id) DO UPDATE SET token = excluded.token WHERE excluded.token >= journal_fencing.token
        """;

    /// <summary>A page of one id's events for recovery.</summary>
    public const string Replay = """
        SELECT sequence_number, writer_id, timestamp, manifest, payload, tags FROM journal
        WHERE persistence_id = $pid AND sequence_number >= $from AND sequence_number <= $to
        ORDER BY sequence_number LIMIT $max
        """;

    /// <summary>The highest sequence number of an id, deleted events included.</summary>
    public const string Highest = """
        SELECT max(
            coalesce((SELECT max(sequence_number) FROM journal WHERE persistence_id = $pid), 0),
            coalesce((SELECT sequence_number FROM journal_highest WHERE persistence_id = $pid), 0))
        """;

    /// <summary>Deletes an id's events up to a sequence number, remembering the highest before the rows that hold it may go.</summary>
    public const string DeleteTo = """
        INSERT INTO journal_highest (persistence_id, sequence_number)
        SELECT $pid, max(sequence_number) FROM journal WHERE persistence_id = $pid HAVING max(sequence_number) IS NOT NULL
        ON CONFLICT (persistence_id) DO UPDATE SET sequence_number = max(sequence_number, excluded.sequence_number);
        DELETE FROM journal_tags WHERE ordering IN (SELECT ordering FROM journal WHERE persistence_id = $pid AND sequence_number <= $to);
        DELETE FROM journal WHERE persistence_id = $pid AND sequence_number <= $to;
        """;

    /// <summary>The newest place in the global order.</summary>
    public const string LatestOrdering = "SELECT coalesce(max(ordering), 0) FROM journal";

    /// <summary>The columns of an event read by the read side, in the order the reader expects.</summary>
    private const string EventColumns = "j.sequence_number, j.writer_id, j.timestamp, j.manifest, j.payload, j.tags, j.ordering, j.persistence_id";

    /// <summary>A page of the events of a tag after an offset, up to a bound.</summary>
    public const string EventsByTag = $"""
        SELECT {EventColumns} FROM journal_tags t JOIN journal j ON j.ordering = t.ordering
        WHERE t.tag = $tag AND t.ordering > $after AND t.ordering <= $upTo
        ORDER BY t.ordering LIMIT $limit
        """;

    // The index (entity_type, ordering, slice) gives the events of the entity type in offset order
    // from the offset on, and the slice range is tested in the index before a row is read.
    /// <summary>A page of the events of an entity type's slice range after an offset, up to a bound.</summary>
    public const string EventsBySlices = $"""
        SELECT {EventColumns} FROM journal j
        WHERE j.entity_type = $entityType AND j.ordering > $after AND j.ordering <= $upTo AND j.slice BETWEEN $minSlice AND $maxSlice
        ORDER BY j.ordering LIMIT $limit
        """;

    /// <summary>A page of the persistence ids after one, from events, deleted histories and snapshots.</summary>
    public const string Ids = """
        SELECT persistence_id FROM (SELECT DISTINCT persistence_id FROM journal WHERE persistence_id > $after ORDER BY persistence_id LIMIT $limit)
        UNION SELECT persistence_id FROM (SELECT persistence_id FROM journal_highest WHERE persistence_id > $after ORDER BY persistence_id LIMIT $limit)
        UNION SELECT persistence_id FROM (SELECT DISTINCT persistence_id FROM snapshots WHERE persistence_id > $after ORDER BY persistence_id LIMIT $limit)
        ORDER BY persistence_id LIMIT $limit
        """;

    /// <summary>The first page of the persistence ids.</summary>
    public const string FirstIds = """
        SELECT persistence_id FROM (SELECT DISTINCT persistence_id FROM journal ORDER BY persistence_id LIMIT $limit)
        UNION SELECT persistence_id FROM (SELECT persistence_id FROM journal_highest ORDER BY persistence_id LIMIT $limit)
        UNION SELECT persistence_id FROM (SELECT DISTINCT persistence_id FROM snapshots ORDER BY persistence_id LIMIT $limit)
        ORDER BY persistence_id LIMIT $limit
        """;

    /// <summary>The ids of the events after an offset, in offset order (the live id stream).</summary>
    public const string IdsAfterOffset = "SELECT ordering, persistence_id FROM journal WHERE ordering > $after ORDER BY ordering LIMIT $limit";
}
