using System.Net.Sockets;
using Npgsql;
using Recall.Persistence.Query;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// One PostgreSQL schema as the store uses it: the connection pool, the schema check on first use,
/// the read side's wake-ups (the write notifier, the listening connection and the follow-up timer:
/// one of each, shared by every reader of the database), and errors rephrased to name the server,
/// database and schema. Shared by a journal, its readers and a snapshot store; the last one to be disposed
/// closes the listener and the pool.
/// </summary>
/// <remarks>
/// The pool holds <see cref="PostgreSqlStoreOptions.MaxReadConnections"/> +
/// <see cref="PostgreSqlStoreOptions.MaxWriteConnections"/> connections, and reads take a read slot
/// first: however many actors recover at once, they leave the write connections free, so a batch
/// never queues behind replays. (One pool rather than two: each Npgsql data source loads the
/// server's type catalog on its first connection.)
/// </remarks>
internal sealed class PostgreSqlDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource _source;
    private readonly SemaphoreSlim _readSlots;
    private readonly bool _checkSchema;
    private readonly Lock _schemaLock = new();
    private Task? _schemaReady;
    private int _references = 1;

    /// <summary>The pool of a store whose calls are few and short (the cluster's members, leases and shards): two read and two write connections, whatever the options say.</summary>
    public const int SmallPool = 2;

    /// <param name="options">The store's settings.</param>
    /// <param name="checkSchema">Whether the first call checks (and may create) the schema.</param>
    /// <param name="smallPool">A pool of <see cref="SmallPool"/> read and write connections instead of the options' sizes.</param>
    public PostgreSqlDatabase(PostgreSqlStoreOptions options, bool checkSchema = true, bool smallPool = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = options.Validate();
        Options = options;
        _checkSchema = checkSchema;
        Schema = PostgreSqlSchema.Quote(options.Schema);
        Location = $"schema '{options.Schema}' of database '{builder.Database ?? builder.Username ?? "(default)"}' on {builder.Host}:{builder.Port}";

        builder.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.CommandTimeout.TotalSeconds));
        if (builder.MaxAutoPrepare == 0)
        {
            // The store runs a handful of statements again and again: prepared once per connection,
            // without an extra round trip (automatic preparation piggybacks on the first executions).
            builder.MaxAutoPrepare = 16;
            builder.AutoPrepareMinUsages = 2;
        }

        builder.ApplicationName ??= "recall";

        // The listener of the read side holds one connection for as long as live streams run: its
        // own, outside the pool, so that it never takes a connection from reads or writes.
        var listener = new NpgsqlConnectionStringBuilder(builder.ConnectionString)
        {
            Pooling = false,
            ApplicationName = builder.ApplicationName + " listener",
        }.ConnectionString;

        // A notification channel is an identifier of at most 63 bytes; schema names are ASCII. Two
        // schemas whose names differ only beyond that share a channel, which only costs wake-ups.
        Channel = ("recall_" + options.Schema)[..Math.Min(63, 7 + options.Schema.Length)];
        Listener = new PostgreSqlListener(listener, Channel, Writes.Notify);
        WakeUntilFinal = new WakeUntilFinal(Writes);
        var reads = smallPool ? SmallPool : options.MaxReadConnections;
        builder.MaxPoolSize = reads + (smallPool ? SmallPool : options.MaxWriteConnections);
        builder.MinPoolSize = Math.Min(builder.MinPoolSize, builder.MaxPoolSize);
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        _readSlots = new SemaphoreSlim(reads, reads);
    }

    public PostgreSqlStoreOptions Options { get; }

    /// <summary>The quoted schema name, ready to prefix table names.</summary>
    public string Schema { get; }

    /// <summary>The notification channel of this schema: writes notify it, the read side listens to it.</summary>
    public string Channel { get; }

    /// <summary>Notified after every write of a journal on this database and on every notification of <see cref="Channel"/>: wakes the live streams of every reader.</summary>
    public WriteNotifier Writes { get; } = new();

    /// <summary>The read side's listening connection (its own, not pooled), started by the first live stream.</summary>
    public PostgreSqlListener Listener { get; }

    /// <summary>Wakes the live streams again while committed events are not final yet.</summary>
    public WakeUntilFinal WakeUntilFinal { get; }

    /// <summary>Where the tables are, for messages: <c>schema 's' of database 'd' on host:port</c>.</summary>
    public string Location { get; }

    /// <summary>Another store shares this database: it must be released once more before the pools close.</summary>
    public PostgreSqlDatabase Acquire()
    {
        Interlocked.Increment(ref _references);
        return this;
    }

    /// <summary>Runs <paramref name="work"/> on a pooled connection, after the schema check. Errors name the server and <paramref name="operation"/>.</summary>
    public async Task<T> WriteAsync<T>(string operation, Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await work(connection);
        }
        catch (Exception exception)
        {
            throw Describe(exception, operation);
        }
    }

    /// <summary>Runs <paramref name="work"/> on a pooled connection once a read slot is free, after the schema check. Errors name the server and <paramref name="operation"/>.</summary>
    public async Task<T> ReadAsync<T>(string operation, Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        await _readSlots.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await work(connection);
        }
        catch (Exception exception)
        {
            throw Describe(exception, operation);
        }
        finally
        {
            _readSlots.Release();
        }
    }

    /// <summary>Checks (and creates, when allowed) the schema once; a failed check is tried again on the next call.</summary>
    public Task EnsureSchemaAsync(bool create, CancellationToken cancellationToken)
    {
        var ready = Volatile.Read(ref _schemaReady);
        if (ready is { IsCompletedSuccessfully: true })
        {
            return ready;
        }

        lock (_schemaLock)
        {
            if (_schemaReady is null || _schemaReady.IsFaulted || _schemaReady.IsCanceled)
            {
                _schemaReady = CheckSchemaAsync(create, cancellationToken);
            }

            return _schemaReady;
        }
    }

    /// <summary>
    /// An error of an operation rephrased to name the server, database and schema. A lost connection
    /// also empties the pools: after a server restart every idle connection is dead, and the next
    /// operation should open a fresh one instead of failing on each stale one in turn.
    /// </summary>
    public Exception Describe(Exception exception, string operation)
    {
        if (exception is OperationCanceledException or PostgreSqlStoreException or ObjectDisposedException)
        {
            return exception;
        }

        if (IsConnectionFailure(exception))
        {
            _source.Clear();
        }

        var detail = exception switch
        {
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } => "the database does not exist",
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } p => $"authentication failed: {p.MessageText}",
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } p => $"permission denied: {p.MessageText}",
            PostgresException { SqlState: PostgresErrorCodes.UndefinedTable } p => $"{p.MessageText} (were the tables dropped while the store ran?)",
            PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown } p => $"the server closed the connection: {p.MessageText}",
            PostgresException { SqlState: PostgresErrorCodes.CannotConnectNow } p => $"the server is not accepting connections yet: {p.MessageText}",
            PostgresException p => $"{p.MessageText} (SQLSTATE {p.SqlState})",
            NpgsqlException { InnerException: SocketException socket } => $"cannot connect: {socket.Message}",
            NpgsqlException { InnerException: IOException or EndOfStreamException } => "the connection was lost (the server restarted, or the network failed); a write in flight may or may not be stored",
            NpgsqlException { InnerException: TimeoutException } => "timed out",
            _ => exception.Message,
        };
        return new PostgreSqlStoreException($"PostgreSQL {operation} failed on the {Location}: {detail}", exception);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        await Listener.DisposeAsync();
        await _source.DisposeAsync();
        _readSlots.Dispose();
    }

    private static bool IsConnectionFailure(Exception exception) => exception switch
    {
        PostgresException p => p.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            || p.SqlState.StartsWith("08", StringComparison.Ordinal),
        NpgsqlException => true, // an NpgsqlException that is not a PostgresException is a client-side failure: I/O, broken connection, timeout
        _ => exception.InnerException is { } inner && IsConnectionFailure(inner),
    };

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_checkSchema)
        {
            await EnsureSchemaAsync(Options.CreateSchemaIfMissing, cancellationToken);
        }

        return await _source.OpenConnectionAsync(cancellationToken);
    }

    private async Task CheckSchemaAsync(bool create, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _source.OpenConnectionAsync(cancellationToken);
            await PostgreSqlSchema.EnsureAsync(connection, Options, Location, create, cancellationToken);
        }
        catch (Exception exception)
        {
            throw Describe(exception, "schema check");
        }
    }
}
