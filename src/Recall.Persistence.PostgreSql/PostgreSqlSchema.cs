using System.Globalization;
using Npgsql;
using NpgsqlTypes;
using Recall.Persistence.Query;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The store's tables in one PostgreSQL schema, and their version. The store creates them on first
/// use (unless <see cref="PostgreSqlStoreOptions.CreateSchemaIfMissing"/> is false); tools and
/// deployments that create them ahead call <see cref="CreateAsync"/>.
/// </summary>
/// <remarks>
/// <para>The table <c>recall_schema</c> records the version. A schema of a newer version than
/// <see cref="Version"/> is refused with an error naming it; one of an older version is upgraded in
/// one transaction (see <see cref="CreateAsync"/>). Creation and upgrade run under an advisory lock,
/// so processes that start together do them once.</para>
/// <para><b>Versions.</b> 1: journal, journal_highest, snapshots. 2: the journal's
/// <c>entity_type</c> and <c>slice</c> columns (for events by slices) and the <c>journal_tags</c>
/// table (for events by tag in the global order), which replaces the GIN index on tags.
/// 3: <c>journal_fencing</c>, the highest fencing token accepted per persistence id, and
/// <c>cluster_leases</c> and <c>cluster_members</c>. 4: <c>cluster_shards</c> and <c>cluster_shard_entities</c> (cluster sharding).</para>
/// </remarks>
public static class PostgreSqlSchema
{
    /// <summary>The schema version this build creates, reads and writes.</summary>
    public const int Version = 4;

    /// <summary>How many persistence ids one step of the version 1 to 2 upgrade fills in.</summary>
    internal const int UpgradeBatchSize = 1000;

    /// <summary>
    /// Creates the schema and its tables if they are missing, upgrades tables of an older version,
    /// and checks the version of existing ones. Idempotent; safe to run from several processes at once.
    /// </summary>
    /// <remarks>
    /// The upgrade from version 1 runs in one transaction: it adds the journal's <c>entity_type</c>
    /// and <c>slice</c> columns, fills them in batches of persistence ids, fills <c>journal_tags</c>
    /// from the events' tags, builds the indexes and records version 2. The journal is locked
    /// meanwhile (writers and readers wait), and every journal row is rewritten once. Stop the
    /// processes of the older Recall first: they cannot write version 2 rows.
    /// </remarks>
    /// <exception cref="PostgreSqlStoreException">The server cannot be reached, the user may not create the schema, the schema belongs to another application, or it has a newer version.</exception>
    public static async Task CreateAsync(PostgreSqlStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var database = new PostgreSqlDatabase(options, checkSchema: false);
        await database.EnsureSchemaAsync(create: true, cancellationToken);
    }

    /// <summary>The SQL that creates the tables of version <see cref="Version"/> in <paramref name="schema"/>, for review or for running by hand.</summary>
    public static string GetCreateScript(string schema)
    {
        var options = new PostgreSqlStoreOptions { ConnectionString = "Host=localhost", Schema = schema };
        options.Validate();
        var s = Quote(schema);
        return $"""
            CREATE SCHEMA IF NOT EXISTS {s};

            CREATE TABLE {s}.recall_schema (
                version      integer     NOT NULL,
                installed_at timestamptz NOT NULL DEFAULT now()
            );

            -- One row per event. (persistence_id, sequence_number) is the primary key: the database
            -- refuses a second writer's event. persistence_id uses the "C" collation: ids match
            -- byte for byte, whatever the database's collation.
            -- ordering: a global order for the read side, assigned at insert (not commit) time.
            -- transaction_id: the writing transaction (pg_current_xact_id()); readers follow
            -- (transaction_id, ordering) up to pg_snapshot_xmin(pg_current_snapshot()), below which
            -- no transaction can still commit, so a late commit is never skipped (docs/postgresql.md).
            -- entity_type and slice: of the persistence id (Recall.Persistence.Query.Slices), for
            -- events by slices; written by the store, never changed.
            CREATE TABLE {s}.journal (
                ordering        bigint      GENERATED ALWAYS AS IDENTITY,
                persistence_id  text        COLLATE "C" NOT NULL,
                sequence_number bigint      NOT NULL,
                writer_id       text        NOT NULL,
                timestamp       timestamptz NOT NULL,
                manifest        text        NOT NULL,
                payload         bytea       NOT NULL,
                tags            text[]      NOT NULL DEFAULT ARRAY[]::text[],
                transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
                entity_type     text        COLLATE "C" NOT NULL,
                slice           integer     NOT NULL,
                PRIMARY KEY (persistence_id, sequence_number)
            );
            CREATE UNIQUE INDEX journal_ordering_idx ON {s}.journal (ordering);
            CREATE INDEX journal_transaction_idx ON {s}.journal (transaction_id, ordering);
            -- Events by slices in the global order; the slice is tested inside the index.
            CREATE INDEX journal_slices_idx ON {s}.journal (entity_type, transaction_id, ordering, slice);

            -- One row per tag of an event, written in the same statement as the event: events by tag
            -- read this index in the global order, then fetch the events by ordering.
            CREATE TABLE {s}.journal_tags (
                tag            text   COLLATE "C" NOT NULL,
                transaction_id xid8   NOT NULL,
                ordering       bigint NOT NULL,
                PRIMARY KEY (tag, transaction_id, ordering)
            );

            -- The highest sequence number of an id whose newest events were deleted: it never
            -- decreases, and writes at or below it are refused (a stale writer cannot refill a history).
            CREATE TABLE {s}.journal_highest (
                persistence_id  text   COLLATE "C" PRIMARY KEY,
                sequence_number bigint NOT NULL
            );

            {Version3Tables(s)}

            {Version4Tables(s)}

            CREATE TABLE {s}.snapshots (
                persistence_id  text        COLLATE "C" NOT NULL,
                sequence_number bigint      NOT NULL,
                timestamp       timestamptz NOT NULL,
                manifest        text        NOT NULL,
                payload         bytea       NOT NULL,
                PRIMARY KEY (persistence_id, sequence_number)
            );

            INSERT INTO {s}.recall_schema (version) VALUES ({Version.ToString(CultureInfo.InvariantCulture)});
            """;
    }

    /// <summary>A quoted SQL identifier.</summary>
    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// Checks (and, when <paramref name="create"/>, creates) the schema on <paramref name="connection"/>.
    /// Throws <see cref="PostgreSqlStoreException"/> for what the user must fix.
    /// </summary>
    internal static async Task EnsureAsync(NpgsqlConnection connection, PostgreSqlStoreOptions options, string location, bool create, CancellationToken cancellationToken)
    {
        // Fast path without a lock or a transaction: the tables exist in the current version.
        var found = await ReadVersionAsync(connection, options.Schema, cancellationToken);
        if (found == Version)
        {
            return;
        }

        if (found > Version)
        {
            throw Newer(found.Value, location);
        }

        if (!create && found is >= 1)
        {
            throw new PostgreSqlStoreException(
                $"The {location} has Recall schema version {found}, which this version upgrades to {Version}, and PostgreSqlStoreOptions.CreateSchemaIfMissing is false: upgrade it with PostgreSqlSchema.CreateAsync (or `recall postgres init --postgres CONNECTION --schema {options.Schema}`), or allow the store to do it; nothing was changed.");
        }

        if (!create)
        {
            throw new PostgreSqlStoreException(
                $"The {location} has no Recall tables, and PostgreSqlStoreOptions.CreateSchemaIfMissing is false: create them with PostgreSqlSchema.CreateAsync (or `recall postgres init --postgres CONNECTION --schema {options.Schema}`), or allow the store to create them.");
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('recall.schema:' || $1))", connection, transaction))
        {
            command.Parameters.AddWithValue(options.Schema);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        // Another process may have created the tables while this one waited for the lock.
        found = await ReadVersionAsync(connection, options.Schema, cancellationToken, transaction);
        if (found == Version)
        {
            return;
        }

        if (found > Version)
        {
            throw Newer(found.Value, location);
        }

        if (found is >= 1 and < Version)
        {
            if (found == 1)
            {
                await UpgradeFromVersion1Async(connection, transaction, Quote(options.Schema), cancellationToken);
            }

            if (found <= 2)
            {
                await UpgradeFromVersion2Async(connection, transaction, Quote(options.Schema), cancellationToken);
            }

            await UpgradeFromVersion3Async(connection, transaction, Quote(options.Schema), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return;
        }

        await using (var command = new NpgsqlCommand(
            """
            SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname IN ('journal', 'journal_highest', 'journal_tags', 'snapshots')
            """,
            connection,
            transaction))
        {
            command.Parameters.AddWithValue(options.Schema);
            if (await command.ExecuteScalarAsync(cancellationToken) is string clashes)
            {
                throw new PostgreSqlStoreException(
                    $"The {location} already has tables named {clashes} but no recall_schema table: they belong to another application. Choose another schema with PostgreSqlStoreOptions.Schema; nothing was changed.");
            }
        }

        await using (var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", connection, transaction))
        {
            command.Parameters.AddWithValue(options.Schema);
            if (await command.ExecuteScalarAsync(cancellationToken) is true)
            {
                // CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the database: skip it for an existing schema.
                await using var tables = new NpgsqlCommand(GetCreateScript(options.Schema).Replace($"CREATE SCHEMA IF NOT EXISTS {Quote(options.Schema)};", "", StringComparison.Ordinal), connection, transaction);
                await tables.ExecuteNonQueryAsync(cancellationToken);
            }
            else
            {
                await using var all = new NpgsqlCommand(GetCreateScript(options.Schema), connection, transaction);
                await all.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Version 2 to 3, inside the caller's transaction: the journal_fencing, cluster_leases and cluster_members tables and the version row.</summary>
    private static async Task UpgradeFromVersion2Async(NpgsqlConnection connection, NpgsqlTransaction transaction, string s, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"{Version3Tables(s)}\nINSERT INTO {s}.recall_schema (version) VALUES (3);", connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Version 3 to 4, inside the caller's transaction: cluster sharding's tables and the version row.</summary>
    private static async Task UpgradeFromVersion3Async(NpgsqlConnection connection, NpgsqlTransaction transaction, string s, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"{Version4Tables(s)}\nINSERT INTO {s}.recall_schema (version) VALUES (4);", connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The tables version 4 added, for a new schema and for the upgrade alike.</summary>
    private static string Version4Tables(string s) => $"""
        -- Cluster sharding: the node whose region hosts each allocated shard of an entity type
        -- (placement; the shard's lease decides who runs it), and the entities each shard remembers.
        CREATE TABLE {s}.cluster_shards (
            type_name text COLLATE "C" NOT NULL,
            shard_id  text COLLATE "C" NOT NULL,
            node      text NOT NULL,
            PRIMARY KEY (type_name, shard_id)
        );

        CREATE TABLE {s}.cluster_shard_entities (
            type_name text COLLATE "C" NOT NULL,
            shard_id  text COLLATE "C" NOT NULL,
            entity_id text COLLATE "C" NOT NULL,
            PRIMARY KEY (type_name, shard_id, entity_id)
        );
        """;

    /// <summary>The tables version 3 added, for a new schema and for the upgrade alike.</summary>
    private static string Version3Tables(string s) => $"""
        -- The highest fencing token accepted per id: a fenced write raises it in its own statement,
        -- and one with an older token is refused (a stale owner cannot append).
        CREATE TABLE {s}.journal_fencing (
            persistence_id text   COLLATE "C" PRIMARY KEY,
            token          bigint NOT NULL
        );

        -- The cluster's leases: holder, fencing token (raised whenever the holder changes),
        -- expiry on the server's clock. A released lease keeps its row, so tokens only grow.
        CREATE TABLE {s}.cluster_leases (
            name       text        COLLATE "C" PRIMARY KEY,
            holder     text        NOT NULL,
            token      bigint      NOT NULL,
            expires_at timestamptz NOT NULL
        );

        -- The cluster's members, one row per address: status as MemberStatus (0 joining, 1 up,
        -- 2 leaving, 3 exiting, 4 removed, 5 down), heartbeat on the server's clock.
        CREATE TABLE {s}.cluster_members (
            address      text        COLLATE "C" PRIMARY KEY,
            incarnation  bigint      NOT NULL,
            status       smallint    NOT NULL,
            roles        text[]      NOT NULL,
            joined_at    timestamptz NOT NULL,
            heartbeat_at timestamptz NOT NULL
        );
        """;

    /// <summary>
    /// Version 1 to 2, inside the caller's transaction: the journal's entity_type and slice columns
    /// (computed here, per persistence id, as the store computes them on insert), the journal_tags
    /// table filled from the tags arrays, the slices index, and the version row. The GIN index on
    /// tags goes: journal_tags serves events by tag.
    /// </summary>
    private static async Task UpgradeFromVersion1Async(NpgsqlConnection connection, NpgsqlTransaction transaction, string s, CancellationToken cancellationToken)
    {
        await ExecuteAsync($"""ALTER TABLE {s}.journal ADD COLUMN entity_type text COLLATE "C", ADD COLUMN slice integer""");

        // One persistence id after another in index order (a skip scan: each step finds the next
        // id without reading the events in between), a batch at a time.
        var nextIds = $"""
            WITH RECURSIVE ids AS (
                (SELECT persistence_id FROM {s}.journal WHERE persistence_id > $1 ORDER BY persistence_id LIMIT 1)
                UNION ALL
                SELECT (SELECT j.persistence_id FROM {s}.journal j WHERE j.persistence_id > ids.persistence_id ORDER BY j.persistence_id LIMIT 1)
                FROM ids WHERE ids.persistence_id IS NOT NULL
            )
            SELECT persistence_id FROM ids WHERE persistence_id IS NOT NULL LIMIT $2
            """;
        var fill = $"""
            UPDATE {s}.journal j SET entity_type = u.entity_type, slice = u.slice
            FROM unnest($1::text[], $2::text[], $3::integer[]) AS u(persistence_id, entity_type, slice)
            WHERE j.persistence_id = u.persistence_id
            """;
        var after = "";
        while (true)
        {
            var ids = new List<string>(UpgradeBatchSize);
            await using (var select = new NpgsqlCommand(nextIds, connection, transaction))
            {
                select.Parameters.Add(new NpgsqlParameter<string>() { TypedValue = after, NpgsqlDbType = NpgsqlDbType.Text });
                select.Parameters.Add(new NpgsqlParameter<int>() { TypedValue = UpgradeBatchSize });
                await using var reader = await select.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetString(0));
                }
            }

            if (ids.Count == 0)
            {
                break;
            }

            await using (var update = new NpgsqlCommand(fill, connection, transaction))
            {
                update.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                update.Parameters.Add(new NpgsqlParameter<string[]>() { TypedValue = [.. ids.Select(Slices.EntityTypeOf)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                update.Parameters.Add(new NpgsqlParameter<int[]>() { TypedValue = [.. ids.Select(Slices.Of)], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
                await update.ExecuteNonQueryAsync(cancellationToken);
            }

            after = ids[^1];
        }

        await ExecuteAsync($"""
            ALTER TABLE {s}.journal ALTER COLUMN entity_type SET NOT NULL, ALTER COLUMN slice SET NOT NULL;
            CREATE INDEX journal_slices_idx ON {s}.journal (entity_type, transaction_id, ordering, slice);
            CREATE TABLE {s}.journal_tags (
                tag            text   COLLATE "C" NOT NULL,
                transaction_id xid8   NOT NULL,
                ordering       bigint NOT NULL,
                PRIMARY KEY (tag, transaction_id, ordering)
            );
            INSERT INTO {s}.journal_tags (tag, transaction_id, ordering)
            SELECT DISTINCT t.tag, j.transaction_id, j.ordering FROM {s}.journal j CROSS JOIN LATERAL unnest(j.tags) AS t(tag);
            DROP INDEX IF EXISTS {s}.journal_tags_idx;
            INSERT INTO {s}.recall_schema (version) VALUES (2);
            """);

        async Task ExecuteAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task<int?> ReadVersionAsync(NpgsqlConnection connection, string schema, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        // The catalog itself, not to_regclass(): a name lookup may use a cached "not found" from
        // before another process created the table while this one waited for the lock.
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'recall_schema')",
            connection,
            transaction);
        command.Parameters.AddWithValue(schema);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return null;
        }

        command.CommandText = $"SELECT max(version) FROM {Quote(schema)}.recall_schema";
        command.Parameters.Clear();
        return await command.ExecuteScalarAsync(cancellationToken) is int version ? version : 0;
    }

    private static PostgreSqlStoreException Newer(int found, string location) => new(
        $"The {location} has Recall schema version {found}, written by a newer Recall; this version reads up to {Version}. Upgrade Recall to use it; nothing was changed.");
}
