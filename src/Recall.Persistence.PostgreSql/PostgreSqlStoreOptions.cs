using System.Text.RegularExpressions;
using Npgsql;

namespace Recall.Persistence.PostgreSql;

/// <summary>Settings of the PostgreSQL store. Every property has a documented default, except the connection string.</summary>
public sealed partial class PostgreSqlStoreOptions
{
    /// <summary>
    /// The Npgsql connection string, e.g. <c>Host=db;Database=shop;Username=app;Password=...</c>. Required.
    /// Its pool size settings are replaced by <see cref="MaxReadConnections"/> and <see cref="MaxWriteConnections"/>.
    /// </summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// The PostgreSQL schema that holds the store's tables (<c>journal</c>, <c>journal_highest</c>,
    /// <c>snapshots</c>, <c>recall_schema</c>). Default <c>recall</c>. Letters, digits and underscores,
    /// not starting with a digit, at most 63 characters; case is kept (the name is always quoted).
    /// </summary>
    public string Schema { get; set; } = "recall";

    /// <summary>
    /// Whether the store creates its schema and tables on first use when they are missing, and
    /// upgrades tables of an older schema version. Default true. Set it false where the
    /// application's database user may not create tables: the tables are then created (and
    /// upgraded) beforehand with <see cref="PostgreSqlSchema.CreateAsync"/>, and a missing or older
    /// schema is an error naming it.
    /// </summary>
    public bool CreateSchemaIfMissing { get; set; } = true;

    /// <summary>
    /// Connections of the pool that reads cannot take, kept for writes (event batches, deletes,
    /// snapshot saves). Default 4: the journal front sends one batch at a time, so a few are plenty,
    /// and however many actors recover at once, a batch never waits for a connection behind them.
    /// </summary>
    public int MaxWriteConnections { get; set; } = 4;

    /// <summary>
    /// The most connections used for reads (replay, highest sequence number, snapshot loads) at a
    /// time. Default 20. Replay reads in pages and returns its connection between pages, so a
    /// connection is held only while a page is read; reads beyond this wait for a free one. The pool
    /// holds at most <see cref="MaxReadConnections"/> + <see cref="MaxWriteConnections"/> connections.
    /// </summary>
    public int MaxReadConnections { get; set; } = 20;

    /// <summary>How long one SQL command may run before it fails. Default 30 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many events one replay query reads before it returns its connection and reads the next page. Default 500.</summary>
    public int ReplayPageSize { get; set; } = 500;

    /// <summary>
    /// Whether every write batch sends a notification (<c>pg_notify</c>) that wakes the live read-side
    /// streams of every process at once. Default true. PostgreSQL serializes the commits of
    /// notifying transactions across the server (a lock held until the commit is flushed), so
    /// when many processes write at high rates, their commits no longer share a disk flush: set it
    /// false there, and live streams of other processes find new events by polling
    /// (<c>ReadJournalOptions.PollInterval</c>). Streams in the writing process are woken either way.
    /// </summary>
    public bool NotifyOnWrite { get; set; } = true;

    /// <summary>Checks every setting; throws <see cref="ArgumentException"/> naming the first that is wrong.</summary>
    internal NpgsqlConnectionStringBuilder Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("PostgreSqlStoreOptions.ConnectionString is empty: give one such as \"Host=localhost;Database=shop;Username=app\".");
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or InvalidCastException)
        {
            throw new ArgumentException($"PostgreSqlStoreOptions.ConnectionString is not a valid Npgsql connection string: {exception.Message}", exception);
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new ArgumentException("PostgreSqlStoreOptions.ConnectionString has no Host: name the server, e.g. \"Host=localhost;Database=shop;Username=app\".");
        }

        if (Schema is null || !SchemaName().IsMatch(Schema))
        {
            throw new ArgumentException(
                $"PostgreSqlStoreOptions.Schema '{Schema}' is not a valid schema name: use letters, digits and underscores, not starting with a digit, at most 63 characters.");
        }

        if (MaxWriteConnections <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWriteConnections), MaxWriteConnections, "PostgreSqlStoreOptions.MaxWriteConnections must be positive.");
        }

        if (MaxReadConnections <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadConnections), MaxReadConnections, "PostgreSqlStoreOptions.MaxReadConnections must be positive.");
        }

        if (CommandTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CommandTimeout), CommandTimeout, "PostgreSqlStoreOptions.CommandTimeout must be positive.");
        }

        if (ReplayPageSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReplayPageSize), ReplayPageSize, "PostgreSqlStoreOptions.ReplayPageSize must be positive.");
        }

        return builder;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex SchemaName();
}

/// <summary>
/// The PostgreSQL store cannot be used or failed: the server cannot be reached, the database or
/// schema is missing or of a newer version, or a command failed. The message names the server,
/// database and schema.
/// </summary>
public sealed class PostgreSqlStoreException(string message, Exception? inner = null) : Exception(message, inner);
