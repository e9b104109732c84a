using System.Globalization;
using Npgsql;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The store's tables in one PostgreSQL schema, and their version. The store creates them on first
/// use (unless <see cref="PostgreSqlStoreOptions.CreateSchemaIfMissing"/> is false); tools and
/// deployments that create them ahead call <see cref="CreateAsync"/>.
/// </summary>
/// <remarks>
/// The table <c>recall_schema</c> records the version. A schema of a newer version than
/// <see cref="Version"/> is refused with an error naming it; one of an older version would be
/// migrated (version 1 is the first, so there is nothing to migrate yet). Creation runs in one
/// transaction under an advisory lock, so processes that start together create the tables once.
/// </remarks>
public static class PostgreSqlSchema
{
    /// <summary>The schema version this build creates, reads and writes.</summary>
    public const int Version = 1;

    /// <summary>
    /// Creates the schema and its tables if they are missing, and checks the version of existing ones.
    /// Idempotent; safe to run from several processes at once.
    /// </summary>
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
                PRIMARY KEY (persistence_id, sequence_number)
            );
            CREATE UNIQUE INDEX journal_ordering_idx ON {s}.journal (ordering);
            CREATE INDEX journal_transaction_idx ON {s}.journal (transaction_id, ordering);
            CREATE INDEX journal_tags_idx ON {s}.journal USING gin (tags);

            -- The highest sequence number of an id whose newest events were deleted: it never
            -- decreases, and writes at or below it are refused (a stale writer cannot refill a history).
            CREATE TABLE {s}.journal_highest (
                persistence_id  text   COLLATE "C" PRIMARY KEY,
                sequence_number bigint NOT NULL
            );

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

        if (!create)
        {
            throw new PostgreSqlStoreException(
                $"The {location} has no Recall tables, and PostgreSqlStoreOptions.CreateSchemaIfMissing is false: create them with PostgreSqlSchema.CreateAsync (or `recall postgres init`), or allow the store to create them.");
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

        await using (var command = new NpgsqlCommand(
            """
            SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname IN ('journal', 'journal_highest', 'snapshots')
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
