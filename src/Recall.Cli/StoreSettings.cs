using System.ComponentModel;
using Recall.Persistence.Journal;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli;

/// <summary>
/// Settings of a command that reads a store: a SQLite file as the first argument, or
/// <c>--postgres CONNECTION</c> with <c>--schema</c>. Commands with more positional arguments list
/// them after FILE; with <c>--postgres</c> there is no FILE, so <see cref="ShiftPositionals"/> moves
/// them one place to the left (<c>events --postgres "Host=..." wallet-alice</c>).
/// </summary>
internal class StoreSettings : CommandSettings
{
    /// <summary>The schema the PostgreSQL store uses unless told otherwise (<c>PostgreSqlStoreOptions.Schema</c>).</summary>
    public const string DefaultSchema = "recall";

    /// <summary>The SQLite file, opened read-only.</summary>
    [CommandArgument(0, "[FILE]")]
    [Description("A SQLite journal file, opened read-only (a missing file is an error; none is created)")]
    public string? File { get; set; }

    /// <summary>An Npgsql connection string, instead of a file.</summary>
    [CommandOption("--postgres <CONNECTION>")]
    [Description("Read a PostgreSQL store instead of a file: an Npgsql connection string, e.g. \"Host=db;Database=shop;Username=app\"")]
    public string? Postgres { get; set; }

    /// <summary>The PostgreSQL schema of the store's tables.</summary>
    [CommandOption("--schema <SCHEMA>")]
    [Description("The PostgreSQL schema of the store's tables (default: recall)")]
    public string? Schema { get; set; }

    /// <summary>The schema to read: <see cref="Schema"/> or <see cref="DefaultSchema"/>.</summary>
    public string SchemaOrDefault => Schema ?? DefaultSchema;

    /// <summary>Opens the journal inspector of the store these settings name, read-only.</summary>
    /// <exception cref="SqliteStoreException">The file is missing, not a database, or not a Recall journal.</exception>
    /// <exception cref="PostgreSqlStoreException">The server cannot be reached, or the schema holds no Recall journal.</exception>
    /// <exception cref="CliException">The connection string or schema name is not valid.</exception>
    public async Task<IJournalInspector> OpenJournalAsync(CancellationToken cancellationToken)
    {
        if (Postgres is null)
        {
            // Opening reads the file: off the caller's thread, so a progress display keeps moving.
            return await Task.Run(() => new SqliteJournalInspector(File!), cancellationToken);
        }

        try
        {
            return await PostgreSqlJournalInspector.OpenAsync(Postgres, SchemaOrDefault, cancellationToken);
        }
        catch (ArgumentException exception)
        {
            throw new CliException(exception.Message, RecallApp.UsageError);
        }
    }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (Postgres is not null)
        {
            ShiftPositionals();
        }

        if (Postgres is null && string.IsNullOrWhiteSpace(File))
        {
            return ValidationResult.Error("Give a SQLite FILE or --postgres CONNECTION.");
        }

        if (Postgres is not null && File is not null)
        {
            return ValidationResult.Error($"Give either a SQLite FILE or --postgres, not both ('{File}' is one argument too many).");
        }

        if (Postgres is not null && string.IsNullOrWhiteSpace(Postgres))
        {
            return ValidationResult.Error("--postgres needs a connection string, e.g. \"Host=db;Database=shop;Username=app\".");
        }

        if (Schema is not null && Postgres is null)
        {
            return ValidationResult.Error("--schema applies to --postgres only.");
        }

        return ValidationResult.Success();
    }

    /// <summary>With --postgres there is no FILE: the command's later positional arguments move one place left. Called once, from <see cref="Validate"/>.</summary>
    protected virtual void ShiftPositionals()
    {
    }
}

/// <summary>Settings of a command that lists rows read from a store: a table, or JSON lines with <c>--json</c>.</summary>
internal class ListingSettings : StoreSettings
{
    /// <summary>JSON lines instead of a table.</summary>
    [CommandOption("--json")]
    [Description("Print JSON lines, one object per row (keys: the column names in snake case), instead of a table")]
    public bool Json { get; set; }
}
