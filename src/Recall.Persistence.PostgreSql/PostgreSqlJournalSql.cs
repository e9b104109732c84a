namespace Recall.Persistence.PostgreSql;

/// <summary>The statements of the journal, written once for its schema.</summary>
internal sealed class PostgreSqlJournalSql
{
    /// <summary>The statements for the journal tables of <paramref name="schema"/> (already quoted).</summary>
    public PostgreSqlJournalSql(string schema)
    {
        var s = schema;

        // One row per event, in batch order ($9 is the position of the row's atomic write's first
        // event; rows of one atomic write share it). `refused` holds the rows of atomic writes that
        // start at or below a deleted history's highest sequence number: filtered out as a whole and
        // returned, so that the caller reports them as conflicts. The INSERTs run although the
        // final SELECT does not read them (a data-modifying WITH always runs, once). Each tag of an
        // event becomes a journal_tags row with the event's place in the global order.
        Insert = $"""
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
        Notify = "SELECT pg_notify($1, '')";
        Fence = $"""
            INSERT INTO {s}.journal_fencing AS f (persistence_id, token) VALUES ($1, $2)
            ON CONFLICT (persistence_id) DO UPDATE SET token = greatest(f.token, excluded.token)
            RETURNING token
            """;
        Existing = $"""
            SELECT u.position FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS u(persistence_id, sequence_number, position)
            WHERE EXISTS (SELECT 1 FROM {s}.journal j WHERE j.persistence_id = u.persistence_id AND j.sequence_number = u.sequence_number)
               OR EXISTS (SELECT 1 FROM {s}.journal_highest h WHERE h.persistence_id = u.persistence_id AND h.sequence_number >= u.sequence_number)
            ORDER BY u.position
            """;
        Replay = $"""
            SELECT sequence_number, writer_id, timestamp, manifest, payload, tags FROM {s}.journal
            WHERE persistence_id = $1 AND sequence_number >= $2 AND sequence_number <= $3
            ORDER BY sequence_number LIMIT $4
            """;
        Highest = $"""
            SELECT GREATEST(
                (SELECT max(sequence_number) FROM {s}.journal WHERE persistence_id = $1),
                (SELECT sequence_number FROM {s}.journal_highest WHERE persistence_id = $1),
                0)
            """;

        // One statement, so one transaction: remember the highest sequence number before the rows
        // that hold it may go, and remove the deleted events' tag rows with them.
        Delete = $"""
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
        NewestOffset = $"""
            SELECT transaction_id, ordering, {Final} FROM {s}.journal
            ORDER BY transaction_id DESC, ordering DESC LIMIT 1
            """;
        LatestOffset = $"""
            SELECT transaction_id, ordering FROM {s}.journal WHERE {Final}
            ORDER BY transaction_id DESC, ordering DESC LIMIT 1
            """;

        // Whether committed events wait for an older transaction to end (and so are not final yet).
        // As a max(): one probe at the end of journal_transaction_idx, whatever the statistics say
        // (an EXISTS with the same condition was planned as a scan of the whole table when the
        // statistics were older than the rows: 10-30 ms a page on 100,000 events).
        Pending = $"SELECT coalesce(max(transaction_id) >= pg_snapshot_xmin(pg_current_snapshot()), false) FROM {s}.journal";

        // journal_tags (tag, transaction_id, ordering) gives the tag's events in the global order:
        // a range scan from the offset, then each event by its ordering.
        EventsByTag = $"""
            SELECT t.transaction_id, t.ordering, {EventColumns}
            FROM {s}.journal_tags t JOIN {s}.journal j ON j.ordering = t.ordering
            WHERE t.tag = $1 AND (t.transaction_id, t.ordering) > ($2, $3) AND (t.transaction_id, t.ordering) <= ($4, $5) AND t.{Final}
            ORDER BY t.transaction_id, t.ordering LIMIT $6
            """;

        // journal_slices_idx (entity_type, transaction_id, ordering, slice): the entity type's events
        // in the global order; the slice is tested in the index, so other slices cost no table reads.
        EventsBySlices = $"""
            SELECT j.transaction_id, j.ordering, {EventColumns}
            FROM {s}.journal j
            WHERE j.entity_type = $1 AND (j.transaction_id, j.ordering) > ($2, $3) AND (j.transaction_id, j.ordering) <= ($4, $5)
              AND j.slice BETWEEN $6 AND $7 AND j.{Final}
            ORDER BY j.transaction_id, j.ordering LIMIT $8
            """;

        // Ids of the journal and the snapshots (a skip scan of each primary key: one index probe per
        // id, however many events or snapshots it has) and of journal_highest, in byte order.
        Ids = $"""
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
        IdsAfterOffset = $"""
            SELECT transaction_id, ordering, persistence_id FROM {s}.journal
            WHERE (transaction_id, ordering) > ($1, $2) AND {Final}
            ORDER BY transaction_id, ordering LIMIT $3
            """;
    }

    /// <summary>Stores a batch of rows (arrays, one statement) with its tags and fencing tokens; returns the refused and stale positions.</summary>
    public string Insert { get; }

    /// <summary>Notifies the schema's channel, in the insert's transaction.</summary>
    public string Notify { get; }

    /// <summary>Raises an id's fencing token (never lowers it) and returns the id's newest token.</summary>
    public string Fence { get; }

    /// <summary>Which of the given (persistence id, sequence number) pairs are taken (after a conflict).</summary>
    public string Existing { get; }

    /// <summary>One page of an id's events in sequence-number order.</summary>
    public string Replay { get; }

    /// <summary>The highest sequence number an id ever had, deleted events included.</summary>
    public string Highest { get; }

    /// <summary>Deletes an id's events up to a sequence number, remembering the highest.</summary>
    public string Delete { get; }

    /// <summary>The newest event's offset and whether it is final yet.</summary>
    public string NewestOffset { get; }

    /// <summary>The newest final event's offset.</summary>
    public string LatestOffset { get; }

    /// <summary>Whether committed events still wait for an older transaction to end.</summary>
    public string Pending { get; }

    /// <summary>One page of a tag's final events in the global order.</summary>
    public string EventsByTag { get; }

    /// <summary>One page of an entity type's final events in a slice range, in the global order.</summary>
    public string EventsBySlices { get; }

    /// <summary>One page of the persistence ids of events, deleted histories and snapshots.</summary>
    public string Ids { get; }

    /// <summary>The persistence ids of the final events after an offset.</summary>
    public string IdsAfterOffset { get; }
}
