using System.ComponentModel;
using Npgsql;
using Recall.Persistence.PostgreSql;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall postgres init</c>: create or upgrade the store's tables ahead of the application.</summary>
internal sealed class PostgresModule : ICommandModule
{
    public int Order => 40;

    public void Register(IConfigurator app) => app.AddBranch("postgres", postgres =>
    {
        postgres.SetDescription("Manage the PostgreSQL store's schema.");
        postgres.AddCommand<PostgresInitCommand>("init")
            .WithDescription("Create the store's tables in a schema, or upgrade them to this version (PostgreSqlSchema.CreateAsync); --script prints the SQL instead.")
            .WithExample("postgres", "init", "--postgres", "\"Host=db;Database=shop;Username=owner\"", "--schema", "shop_events")
            .WithExample("postgres", "init", "\"Host=db;Database=shop;Username=owner\"")
            .WithExample("postgres", "init", "--script", "--schema", "shop_events");
    });
}

/// <summary>Settings of <c>recall postgres init</c>.</summary>
internal sealed class PostgresInitSettings : CommandSettings
{
    /// <summary>The connection string as an argument.</summary>
    [CommandArgument(0, "[CONNECTION]")]
    [Description("An Npgsql connection string (or give it with --postgres)")]
    public string? Connection { get; set; }

    /// <summary>The connection string as an option, as the reading commands take it.</summary>
    [CommandOption("--postgres <CONNECTION>")]
    [Description("An Npgsql connection string, e.g. \"Host=db;Database=shop;Username=owner\"")]
    public string? Postgres { get; set; }

    /// <summary>The schema of the tables.</summary>
    [CommandOption("--schema <SCHEMA>")]
    [Description("The schema of the store's tables (default: recall)")]
    public string? Schema { get; set; }

    /// <summary>Print the SQL instead of running it.</summary>
    [CommandOption("--script")]
    [Description("Print the SQL that creates the tables (PostgreSqlSchema.GetCreateScript) instead of connecting")]
    public bool Script { get; set; }

    /// <summary>The connection string given either way.</summary>
    public string? ConnectionString => Postgres ?? Connection;

    /// <summary>The schema, or <c>recall</c>.</summary>
    public string SchemaOrDefault => Schema ?? StoreSettings.DefaultSchema;

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (Postgres is not null && Connection is not null)
        {
            return ValidationResult.Error("Give the connection string once: as CONNECTION or with --postgres.");
        }

        if (!Script && string.IsNullOrWhiteSpace(ConnectionString))
        {
            return ValidationResult.Error("Give a CONNECTION (or --postgres CONNECTION), or --script to print the SQL.");
        }

        return ValidationResult.Success();
    }
}

/// <summary><c>recall postgres init</c>.</summary>
internal sealed class PostgresInitCommand(IAnsiConsole console) : AsyncCommand<PostgresInitSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, PostgresInitSettings settings, CancellationToken cancellationToken)
    {
        var schema = settings.SchemaOrDefault;
        if (settings.Script)
        {
            string script;
            try
            {
                script = PostgreSqlSchema.GetCreateScript(schema);
            }
            catch (ArgumentException exception)
            {
                throw new CliException(exception.Message, RecallApp.UsageError);
            }

            // Written as is: a table's text would be wrapped at the console's width.
            var output = console.Profile.Out.Writer;
            await output.WriteLineAsync(script.AsMemory(), cancellationToken);
            await output.FlushAsync(cancellationToken);
            return 0;
        }

        var connectionString = settings.ConnectionString!;
        var location = PostgresLocation.Of(connectionString, schema);
        var options = new PostgreSqlStoreOptions { ConnectionString = connectionString, Schema = schema };
        int? before;
        try
        {
            _ = PostgreSqlSchema.GetCreateScript(schema); // checks the schema name before anything connects
            before = await ReadVersionAsync(connectionString, schema, cancellationToken);
            await PostgreSqlSchema.CreateAsync(options, cancellationToken);
        }
        catch (ArgumentException exception)
        {
            throw new CliException(exception.Message, RecallApp.UsageError);
        }
        catch (NpgsqlException exception)
        {
            throw PostgresLocation.Describe(exception, "schema check", location);
        }

        var version = PostgreSqlSchema.Version;
        console.WriteLine(before switch
        {
            null => $"created the Recall tables (schema version {version}) in the {location}",
            var found when found == version => $"the {location} is already at Recall schema version {version}; nothing changed",
            var found => $"upgraded the {location} from Recall schema version {found} to {version}",
        });
        return 0;
    }

    /// <summary>The version recorded in the schema's <c>recall_schema</c> table, or null when it has none (or the schema is missing). Reads only.</summary>
    private static async Task<int?> ReadVersionAsync(string connectionString, string schema, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'recall_schema')",
            connection);
        command.Parameters.AddWithValue(schema);
        if (await command.ExecuteScalarAsync(cancellationToken) is not true)
        {
            return null;
        }

        command.CommandText = $"SELECT max(version) FROM \"{schema.Replace("\"", "\"\"", StringComparison.Ordinal)}\".recall_schema";
        command.Parameters.Clear();
        return await command.ExecuteScalarAsync(cancellationToken) is int version ? version : 0;
    }
}
