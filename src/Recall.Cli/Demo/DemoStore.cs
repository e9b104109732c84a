using Npgsql;
using Recall.Persistence;
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

    /// <summary>The arguments that give the child process (--kill) the same store.</summary>
    public abstract IReadOnlyList<string> ChildArguments { get; }

    /// <summary>
    /// The store the demo's options choose: with <c>--postgres</c> the connection string given, else
    /// RECALL_POSTGRES; without it the SQLite file <paramref name="db"/>.
    /// </summary>
    /// <exception cref="CliException">--postgres without a connection string and without RECALL_POSTGRES.</exception>
    public static DemoStore Create(string db, bool postgres, string? connectionString)
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

        return new PostgreSql(connectionString);
    }

    /// <summary>Chooses the store in the persistence settings.</summary>
    public abstract PersistenceOptions Use(PersistenceOptions options);

    /// <summary>Checks the store can be used before the demo starts: null when it can, else what is wrong.</summary>
    public virtual Task<string?> PrepareAsync() => Task.FromResult<string?>(null);

    private sealed class Sqlite(string path) : DemoStore
    {
        public override string Name => "SQLite";

        public override string Location => path;

        public override string Durability => "WAL, an event is acknowledged only after fsync";

        public override IReadOnlyList<string> ChildArguments => ["--db", path];

        public override PersistenceOptions Use(PersistenceOptions options) => options.UseSqlite(path);
    }

    private sealed class PostgreSql(string connectionString) : DemoStore
    {
        public override string Name => "PostgreSQL";

        public override string Location
        {
            get
            {
                var builder = new NpgsqlConnectionStringBuilder(connectionString);
                return $"schema {PostgreSqlSchemaName} of database {builder.Database ?? builder.Username} on {builder.Host}:{builder.Port}";
            }
        }

        public override string Durability => "an event is acknowledged only after its transaction committed";

        public override IReadOnlyList<string> ChildArguments => ["--postgres", connectionString];

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

        private void Configure(PostgreSqlStoreOptions options)
        {
            options.ConnectionString = connectionString;
            options.Schema = PostgreSqlSchemaName;
        }
    }
}
