using Npgsql;
using Recall.Cluster;
using Recall.Persistence;
using Recall.Persistence.Leases;
using Recall.Persistence.Membership;
using Recall.Persistence.Sharding;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;

namespace Recall.Cli.Demo;

/// <summary>Where the demo keeps its wallets: a SQLite file (the default) or a PostgreSQL schema.</summary>
internal abstract class DemoStore
{
    /// <summary>The schema the demo uses in PostgreSQL, apart from any application's tables.</summary>
    public const string PostgreSqlSchemaName = "recall_demo";

    /// <summary>The store's name in the title.</summary>
    public abstract string Name { get; }

    /// <summary>Where the events are: a path, or schema, database and server.</summary>
    public abstract string Location { get; }

    /// <summary>When an event counts as stored.</summary>
    public abstract string Durability { get; }

    /// <summary>The arguments of <c>recall journal</c> or <c>recall cluster</c> that read this store.</summary>
    public abstract string InspectArguments { get; }

    /// <summary>The arguments of <c>recall demo</c> that choose this store again (empty for the default file), each after a space.</summary>
    public abstract string DemoArguments { get; }

    /// <summary>The arguments that give the child process (--kill) the same store.</summary>
    public abstract IReadOnlyList<string> ChildArguments { get; }

    /// <summary>
    /// The store the demo's options choose: with <c>--postgres</c> the connection string given, else
    /// RECALL_POSTGRES; without it the SQLite file <paramref name="db"/>.
    /// </summary>
    /// <exception cref="CliException">--postgres without a connection string and without RECALL_POSTGRES.</exception>
    public static DemoStore Create(string db, bool postgres, string? connectionString, string schema = PostgreSqlSchemaName)
    {
        if (!postgres)
        {
            return new Sqlite(Path.GetFullPath(db));
        }

        connectionString = string.IsNullOrWhiteSpace(connectionString) ? Environment.GetEnvironmentVariable("RECALL_POSTGRES") : connectionString;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new CliException("--postgres needs a connection string (--postgres \"Host=...;Database=...;Username=...\") or RECALL_POSTGRES set to one.", RecallApp.UsageError);
        }

        return new PostgreSql(connectionString, schema);
    }

    /// <summary>Chooses the store in the persistence settings.</summary>
    public abstract PersistenceOptions Use(PersistenceOptions options);

    /// <summary>Checks the store can be used before the demo starts: null when it can, else what is wrong.</summary>
    public virtual Task<string?> PrepareAsync() => Task.FromResult<string?>(null);

    /// <summary>Removes everything an earlier run stored (the SQLite file, or the schema), then prepares the store.</summary>
    public abstract Task<string?> ResetAsync();

    /// <summary>Keeps the cluster's members, leases and shard homes in this store; returns the stores, to read and to dispose after the system.</summary>
    public ClusterStores UseCluster(ClusterOptions cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var stores = CreateClusterStores();
        cluster.UseMembershipStore(stores.Members).UseLeaseStore(stores.Leases).UseShardStore(stores.Shards);
        return stores;
    }

    /// <summary>New membership, lease and shard stores on this store.</summary>
    protected abstract ClusterStores CreateClusterStores();

    private sealed class Sqlite(string path) : DemoStore
    {
        public override string Name => "SQLite";

        public override string Location => path;

        public override string Durability => "WAL, an event is acknowledged only after fsync";

        public override IReadOnlyList<string> ChildArguments => ["--db", path];

        public override string InspectArguments => path.Contains(' ', StringComparison.Ordinal) ? $"\"{path}\"" : path;

        public override string DemoArguments => System.IO.Path.GetFileName(path) == "recall-demo.db" && System.IO.Path.GetDirectoryName(path) == Directory.GetCurrentDirectory() ? "" : " --db " + InspectArguments;

        public override PersistenceOptions Use(PersistenceOptions options) => options.UseSqlite(path);

        public override Task<string?> ResetAsync()
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }

            return PrepareAsync();
        }

        protected override ClusterStores CreateClusterStores()
        {
            var file = new SqliteStoreOptions { Path = path };
            return new ClusterStores(new SqliteMembershipStore(file), new SqliteLeaseStore(file), new SqliteShardStore(file));
        }
    }

    private sealed class PostgreSql(string connectionString, string schema) : DemoStore
    {
        public override string Name => "PostgreSQL";

        public override string Location
        {
            get
            {
                var builder = new NpgsqlConnectionStringBuilder(connectionString);
                return $"schema {schema} of database {builder.Database ?? builder.Username} on {builder.Host}:{builder.Port}";
            }
        }

        public override string Durability => "an event is acknowledged only after its transaction committed";

        public override IReadOnlyList<string> ChildArguments => ["--postgres", connectionString];

        public override string InspectArguments => $"--postgres \"{RecallApp.OneLine(connectionString)}\" --schema {schema}";

        public override string DemoArguments => $" --postgres \"{RecallApp.OneLine(connectionString)}\"";

        public override PersistenceOptions Use(PersistenceOptions options) => options.UsePostgreSql(Configure);

        public override async Task<string?> PrepareAsync()
        {
            // Fail at once with the store's message (server, database, schema) rather than after
            // the first recovery times out.
            try
            {
                var options = new PostgreSqlStoreOptions();
                Configure(options);
                await PostgreSqlSchema.CreateAsync(options);
                return null;
            }
            catch (Exception exception) when (exception is PostgreSqlStoreException or ArgumentException)
            {
                return exception.Message;
            }
        }

        public override async Task<string?> ResetAsync()
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE", connection);
                await drop.ExecuteNonQueryAsync();
            }
            catch (Exception exception) when (exception is NpgsqlException or ArgumentException)
            {
                return exception.Message;
            }

            return await PrepareAsync();
        }

        protected override ClusterStores CreateClusterStores()
        {
            var options = new PostgreSqlStoreOptions();
            Configure(options);
            return new ClusterStores(new PostgreSqlMembershipStore(options), new PostgreSqlLeaseStore(options), new PostgreSqlShardStore(options));
        }

        private void Configure(PostgreSqlStoreOptions options)
        {
            options.ConnectionString = connectionString;
            options.Schema = schema;

            // Four processes of the cluster demo must fit a server's default max_connections.
            options.MaxReadConnections = 4;
            options.MaxWriteConnections = 4;
        }
    }
}

/// <summary>The stores a cluster node keeps its members, leases and shard homes in; disposed after its actor system.</summary>
internal sealed record ClusterStores(IMembershipStore Members, ILeaseStore Leases, IShardStore Shards) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        foreach (var store in new object[] { Members, Leases, Shards })
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }
}
