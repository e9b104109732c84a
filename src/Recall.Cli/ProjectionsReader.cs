using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using Recall.Persistence.Query;
using Recall.Persistence.Sqlite;
using Recall.Projections;
using Recall.Projections.PostgreSql;
using Recall.Projections.Sqlite;

namespace Recall.Cli;

/// <summary>How far a projection is behind the journal, as far as the database alone tells.</summary>
/// <param name="Events">Events after the stored offset that match the projection's key, counted up to <see cref="ProjectionsReader.LagLimit"/>; null when they cannot be found.</param>
/// <param name="AtLeast">Whether the count stopped at the limit.</param>
/// <param name="Time">
/// When <paramref name="Events"/> is known: the newest waiting event's timestamp minus the last
/// handled event's (the oldest waiting event's when none was handled), zero when nothing waits.
/// Otherwise the age of the last handled event, or null when none was handled.
/// </param>
/// <param name="Unknown">Why the events could not be found, or null.</param>
internal sealed record LagEstimate(long? Events, bool AtLeast, TimeSpan? Time, string? Unknown);

/// <summary>A row of <c>recall projections</c>: the stored row and the lag measured beside it.</summary>
internal sealed record ProjectionRow(StoredProjection Projection, LagEstimate Lag);

/// <summary>
/// Reads the projection offsets of a SQLite file or a PostgreSQL schema with
/// <see cref="SqliteProjectionsInspector"/> or <see cref="PostgreSqlProjectionsInspector"/>, and measures each projection's lag against the journal in the
/// same database: read-only connections, nothing created or changed.
/// </summary>
/// <remarks>
/// The key says where the events are: <c>entityType:min-max</c> is a slice range
/// (<see cref="ProjectionSource.EventsBySlices"/>), anything else is taken as a tag
/// (<see cref="ProjectionSource.EventsByTag"/>) if some event carries it. A custom source's key
/// names no events, and the journal may live in another database: then the lag is unknown.
/// </remarks>
internal static class ProjectionsReader
{
    /// <summary>How many waiting events are counted at most per projection.</summary>
    public const int LagLimit = 10_000;

    /// <summary>Reads every projection of the store the settings name; <c>Location</c> names it for messages.</summary>
    public static Task<(string Location, IReadOnlyList<ProjectionRow> Rows)> ReadAsync(StoreSettings settings, TimeProvider time, CancellationToken cancellationToken) =>
        settings.Postgres is null
            ? Task.Run(() => ReadSqliteAsync(settings.File!, time, cancellationToken), cancellationToken)
            : ReadPostgreSqlAsync(settings.Postgres, settings.SchemaOrDefault, time, cancellationToken);

    /// <summary>The slice range of a key <c>entityType:min-max</c>, or null when the key is not one.</summary>
    internal static (string EntityType, int MinSlice, int MaxSlice)? ParseSlices(string key)
    {
        var colon = key.LastIndexOf(':');
        var dash = colon < 0 ? -1 : key.IndexOf('-', colon);
        if (dash < 0
            || !int.TryParse(key.AsSpan(colon + 1, dash - colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var min)
            || !int.TryParse(key.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            || min > max
            || max >= Slices.Count)
        {
            return null;
        }

        return (key[..colon], min, max);
    }

    private static async Task<(string, IReadOnlyList<ProjectionRow>)> ReadSqliteAsync(string file, TimeProvider time, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(file);
        try
        {
            // One connection for the offsets and the lag, writing nothing beside the file.
            await using var connection = SqliteReadOnlyConnection.Open(path);
            var projections = SqliteProjectionsInspector.Read(connection);
            if (projections.Count == 0)
            {
                return (path, []);
            }

            var journal = new Journal(connection, null, "journal", "journal_tags", Sqlite: true);
            return (path, await MeasureAllAsync(journal, projections, time, cancellationToken));
        }
        catch (SqliteException exception)
        {
            throw new CliException($"SQLite error on '{path}': {exception.Message}");
        }
    }

    private static async Task<(string, IReadOnlyList<ProjectionRow>)> ReadPostgreSqlAsync(string connectionString, string schema, TimeProvider time, CancellationToken cancellationToken)
    {
        var location = PostgresLocation.Of(connectionString, schema);
        try
        {
            var projections = await PostgreSqlProjectionsInspector.ReadAsync(connectionString, schema, cancellationToken);
            if (projections.Count == 0)
            {
                return (location, []);
            }

            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
            {
                await readOnly.ExecuteNonQueryAsync(cancellationToken);
            }

            var quoted = "\"" + schema + "\"";
            var journal = new Journal(connection, transaction, $"{quoted}.journal", $"{quoted}.journal_tags", Sqlite: false, Schema: schema);
            return (location, await MeasureAllAsync(journal, projections, time, cancellationToken));
        }
        catch (ArgumentException exception)
        {
            throw new CliException(exception.Message, RecallApp.UsageError);
        }
        catch (NpgsqlException exception)
        {
            throw PostgresLocation.Describe(exception, "projections read", location);
        }
    }

    private static async Task<IReadOnlyList<ProjectionRow>> MeasureAllAsync(Journal journal, IReadOnlyList<StoredProjection> projections, TimeProvider time, CancellationToken cancellationToken)
    {
        var hasJournal = await journal.ReadableAsync(cancellationToken);
        var now = time.GetUtcNow();
        var rows = new List<ProjectionRow>(projections.Count);
        foreach (var projection in projections)
        {
            rows.Add(new ProjectionRow(projection, await MeasureAsync(journal, hasJournal, projection, now, cancellationToken)));
        }

        return rows;
    }

    private static async Task<LagEstimate> MeasureAsync(Journal journal, bool hasJournal, StoredProjection projection, DateTimeOffset now, CancellationToken cancellationToken)
    {
        LagEstimate Unknown(string why) => new(null, false, projection.LastEventTimestamp is { } last ? now - last : null, why);

        if (!hasJournal)
        {
            return Unknown("no Recall journal of schema version 2 or newer in this database");
        }

        Filter filter;
        if (ParseSlices(projection.Id.Key) is { } slices)
        {
            filter = new Filter(journal.Events, $"entity_type = {journal.Parameter(0)} AND slice BETWEEN {journal.Parameter(1)} AND {journal.Parameter(2)}", [slices.EntityType, slices.MinSlice, slices.MaxSlice]);
        }
        else
        {
            if (!await journal.TagExistsAsync(projection.Id.Key, cancellationToken))
            {
                return Unknown($"no events tagged '{projection.Id.Key}' in the journal (a custom source, or the journal is elsewhere)");
            }

            filter = new Filter(journal.Tags, $"tag = {journal.Parameter(0)}", [projection.Id.Key]);
        }

        var waiting = await journal.CountAfterAsync(filter, projection.Offset, LagLimit, cancellationToken);
        if (waiting == 0)
        {
            return new LagEstimate(0, false, TimeSpan.Zero, null);
        }

        var newest = await journal.TimestampAfterAsync(filter, projection.Offset, newest: true, cancellationToken);
        var from = projection.LastEventTimestamp ?? await journal.TimestampAfterAsync(filter, projection.Offset, newest: false, cancellationToken);
        var behind = newest - from;
        return new LagEstimate(waiting, waiting >= LagLimit, behind < TimeSpan.Zero ? TimeSpan.Zero : behind, null);
    }

    /// <summary>Which rows of which table (the journal, or its tags) belong to a projection's source.</summary>
    private sealed record Filter(string Table, string Where, IReadOnlyList<object> Parameters);

    /// <summary>The journal tables of one database, queried on an open read-only connection.</summary>
    private sealed record Journal(DbConnection Connection, DbTransaction? Transaction, string Events, string Tags, bool Sqlite, string Schema = "")
    {
        public string Parameter(int index) => Sqlite ? $"$p{index}" : $"${index + 1}";

        /// <summary>Whether the database has the journal tables with entity types and slices (schema version 2 or newer).</summary>
        public async Task<bool> ReadableAsync(CancellationToken cancellationToken)
        {
            var exists = Sqlite
                ? "SELECT count(*) = 3 FROM sqlite_master WHERE type = 'table' AND name IN ('recall_schema', 'journal', 'journal_tags')"
                : $"SELECT count(*) = 3 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {Parameter(0)} AND c.relname IN ('recall_schema', 'journal', 'journal_tags')";
            if (!Convert.ToBoolean(await ScalarAsync(exists, Sqlite ? [] : [Schema], cancellationToken), CultureInfo.InvariantCulture))
            {
                return false;
            }

            var table = Sqlite ? "recall_schema" : $"\"{Schema}\".recall_schema";
            return await ScalarAsync($"SELECT max(version) FROM {table}", [], cancellationToken) is { } version and not DBNull
                && Convert.ToInt64(version, CultureInfo.InvariantCulture) >= 2;
        }

        public async Task<bool> TagExistsAsync(string tag, CancellationToken cancellationToken) =>
            Convert.ToBoolean(await ScalarAsync($"SELECT EXISTS (SELECT 1 FROM {Tags} WHERE tag = {Parameter(0)})", [tag], cancellationToken), CultureInfo.InvariantCulture);

        public async Task<long> CountAfterAsync(Filter filter, Offset after, int limit, CancellationToken cancellationToken)
        {
            var (afterSql, all) = After(filter.Parameters, after);
            all.Add(limit);
            var sql = $"SELECT count(*) FROM (SELECT 1 FROM {filter.Table} WHERE {filter.Where} AND {afterSql} LIMIT {Parameter(all.Count - 1)}) waiting";
            return Convert.ToInt64(await ScalarAsync(sql, all, cancellationToken), CultureInfo.InvariantCulture);
        }

        public async Task<DateTimeOffset> TimestampAfterAsync(Filter filter, Offset after, bool newest, CancellationToken cancellationToken)
        {
            var (afterSql, all) = After(filter.Parameters, after);
            var direction = newest ? "DESC" : "ASC";
            var order = Sqlite ? $"ordering {direction}" : $"transaction_id {direction}, ordering {direction}";
            var value = await ScalarAsync($"SELECT timestamp FROM {Events} WHERE ordering = (SELECT ordering FROM {filter.Table} WHERE {filter.Where} AND {afterSql} ORDER BY {order} LIMIT 1)", all, cancellationToken);
            return value switch
            {
                long ticks => new DateTimeOffset(ticks, TimeSpan.Zero),
                DateTime utc => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)),
                DateTimeOffset timestamp => timestamp,
                _ => throw new InvalidOperationException($"unexpected timestamp {value}"),
            };
        }

        private (string Sql, List<object> All) After(IReadOnlyList<object> parameters, Offset after)
        {
            List<object> all = [.. parameters];
            if (Sqlite)
            {
                all.Add(after.Ordering);
                return ($"ordering > {Parameter(all.Count - 1)}", all);
            }

            all.Add(after.Transaction.ToString(CultureInfo.InvariantCulture));
            all.Add(after.Ordering);
            return ($"(transaction_id, ordering) > ({Parameter(all.Count - 2)}::text::xid8, {Parameter(all.Count - 1)})", all);
        }

        private async Task<object?> ScalarAsync(string sql, List<object> parameters, CancellationToken cancellationToken)
        {
            await using var command = Connection.CreateCommand();
            command.Transaction = Transaction;
            command.CommandText = sql;
            for (var i = 0; i < parameters.Count; i++)
            {
                var parameter = command.CreateParameter();
                if (Sqlite)
                {
                    parameter.ParameterName = $"$p{i}";
                }

                parameter.Value = parameters[i];
                command.Parameters.Add(parameter);
            }

            return await command.ExecuteScalarAsync(cancellationToken);
        }
    }
}

/// <summary>How the PostgreSQL commands name a schema in messages, and turn driver errors into one line.</summary>
internal static class PostgresLocation
{
    /// <summary><c>schema 's' of database 'd' on host:port</c>, never the password.</summary>
    /// <exception cref="CliException">The connection string is not valid (a usage error).</exception>
    public static string Of(string connectionString, string schema)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException exception)
        {
            throw new CliException($"--postgres is not a valid Npgsql connection string: {exception.Message}", RecallApp.UsageError);
        }

        return $"schema '{schema}' of database '{builder.Database ?? builder.Username ?? "(default)"}' on {builder.Host}:{builder.Port}";
    }

    /// <summary>One line for a failed PostgreSQL operation.</summary>
    public static CliException Describe(NpgsqlException exception, string operation, string location)
    {
        var detail = exception switch
        {
            PostgresException p => $"{p.MessageText} (SQLSTATE {p.SqlState})",
            { InnerException: System.Net.Sockets.SocketException socket } => $"cannot connect: {socket.Message}",
            { InnerException: TimeoutException } => "timed out",
            _ => exception.Message,
        };
        return new CliException($"PostgreSQL {operation} failed on the {location}: {detail}");
    }
}
