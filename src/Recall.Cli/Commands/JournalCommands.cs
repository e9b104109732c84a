using System.ComponentModel;
using System.Globalization;
using Recall.Persistence.Journal;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall journal ids|events|tail</c>: what a journal holds, read without changing it.</summary>
internal sealed class JournalModule : ICommandModule
{
    public int Order => 30;

    public void Register(IConfigurator app) => app.AddBranch("journal", journal =>
    {
        journal.SetDescription("Read what a journal holds (SQLite file or PostgreSQL), without changing it.");
        journal.AddCommand<JournalIdsCommand>("ids")
            .WithDescription("The persistence ids, with their event counts and highest sequence numbers.")
            .WithExample("journal", "ids", "shop.db")
            .WithExample("journal", "ids", "--postgres", "\"Host=db;Database=shop;Username=app\"");
        journal.AddCommand<JournalEventsCommand>("events")
            .WithDescription("The events of one persistence id: sequence numbers, timestamps, manifests, payloads, tags.")
            .WithExample("journal", "events", "shop.db", "wallet-alice")
            .WithExample("journal", "events", "--postgres", "\"Host=db;Database=shop;Username=app\"", "wallet-alice");
        journal.AddCommand<JournalTailCommand>("tail")
            .WithDescription("The newest events of the whole journal, oldest first.")
            .WithExample("journal", "tail", "shop.db", "50")
            .WithExample("journal", "tail", "--postgres", "\"Host=db;Database=shop;Username=app\"", "--schema", "shop_events");
    });
}

/// <summary><c>recall journal ids</c>.</summary>
internal sealed class JournalIdsCommand(IAnsiConsole console) : AsyncCommand<ListingSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ListingSettings settings, CancellationToken cancellationToken)
    {
        var ids = await JournalOutput.ReadAsync(console, settings, (journal, ct) => journal.PersistenceIdsAsync(ct), cancellationToken);
        var listing = new Listing("persistence id", "events", "highest sequence number");
        foreach (var (id, events, highest) in ids)
        {
            listing.Add(Cell.Text(id), Cell.Number(events), Cell.Number(highest));
        }

        listing.WriteTo(console, settings.Json);
        return 0;
    }
}

/// <summary>Settings of <c>recall journal events</c>.</summary>
internal sealed class JournalEventsSettings : ListingSettings
{
    /// <summary>Whose events.</summary>
    [CommandArgument(1, "[PERSISTENCE-ID]")]
    [Description("Whose events (see 'recall journal ids')")]
    public string? PersistenceId { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var result = base.Validate();
        return !result.Successful || !string.IsNullOrEmpty(PersistenceId) ? result : ValidationResult.Error("Give the PERSISTENCE-ID whose events to show.");
    }

    /// <inheritdoc />
    protected override void ShiftPositionals()
    {
        if (PersistenceId is null)
        {
            (PersistenceId, File) = (File, null);
        }
    }
}

/// <summary><c>recall journal events</c>.</summary>
internal sealed class JournalEventsCommand(IAnsiConsole console) : AsyncCommand<JournalEventsSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, JournalEventsSettings settings, CancellationToken cancellationToken)
    {
        var id = settings.PersistenceId!;
        var location = "";
        var events = await JournalOutput.ReadAsync(
            console,
            settings,
            (journal, ct) =>
            {
                location = journal.Location;
                return journal.EventsAsync(id, ct);
            },
            cancellationToken);
        if (events.Count == 0)
        {
            throw new CliException($"no events for persistence id '{id}' in {location} (see 'recall journal ids')");
        }

        JournalOutput.EventListing(events, withId: false).WriteTo(console, settings.Json);
        return 0;
    }
}

/// <summary>Settings of <c>recall journal tail</c>.</summary>
internal sealed class JournalTailSettings : ListingSettings
{
    /// <summary>How many events.</summary>
    [CommandArgument(1, "[COUNT]")]
    [Description("How many of the newest events (default 20)")]
    public string? Count { get; set; }

    /// <summary>The count as a number.</summary>
    public int CountOrDefault => Count is null ? 20 : int.Parse(Count, NumberStyles.None, CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var result = base.Validate();
        return !result.Successful || Count is null || int.TryParse(Count, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            ? result
            : ValidationResult.Error($"COUNT must be a whole number, not '{Count}'.");
    }

    /// <inheritdoc />
    protected override void ShiftPositionals()
    {
        if (Count is null)
        {
            (Count, File) = (File, null);
        }
    }
}

/// <summary><c>recall journal tail</c>.</summary>
internal sealed class JournalTailCommand(IAnsiConsole console) : AsyncCommand<JournalTailSettings>
{
    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, JournalTailSettings settings, CancellationToken cancellationToken)
    {
        var count = settings.CountOrDefault;
        var events = await JournalOutput.ReadAsync(console, settings, (journal, ct) => journal.TailAsync(count, ct), cancellationToken);
        JournalOutput.EventListing(events, withId: true).WriteTo(console, settings.Json);
        return 0;
    }
}

/// <summary>What the journal commands share: reading under a status spinner, and the event table.</summary>
internal static class JournalOutput
{
    /// <summary>Opens the store, reads, and closes it, showing what it reads from while it works.</summary>
    public static Task<T> ReadAsync<T>(IAnsiConsole console, StoreSettings settings, Func<IJournalInspector, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        ReadAsync(
            console,
            settings,
            async ct =>
            {
                await using var journal = await settings.OpenJournalAsync(ct);
                return await read(journal, ct);
            },
            cancellationToken);

    /// <summary>Runs <paramref name="read"/>, showing what it reads from while it works.</summary>
    public static async Task<T> ReadAsync<T>(IAnsiConsole console, StoreSettings settings, Func<CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        // A spinner only on a terminal: piped output (scripts, files) gets the table alone.
        if (!console.Profile.Capabilities.Interactive)
        {
            return await read(cancellationToken);
        }

        var source = settings.Postgres is null ? settings.File! : $"PostgreSQL schema '{settings.SchemaOrDefault}'";
        return await console.Status().StartAsync($"reading {Markup.Escape(source)}", _ => read(cancellationToken));
    }

    public static Listing EventListing(IEnumerable<StoredEventRow> events, bool withId)
    {
        string[] columns = ["seq", "timestamp (UTC)", "manifest", "payload", "tags"];
        var listing = new Listing(withId ? ["persistence id", .. columns] : columns);
        foreach (var e in events)
        {
            Cell[] cells = [Cell.Number(e.SequenceNumber), Cell.Time(e.Timestamp), Cell.Text(e.Manifest), Cell.Text(e.Payload), new(Markup.Escape(string.Join(", ", e.Tags)), e.Tags)];
            listing.Add(withId ? [Cell.Text(e.PersistenceId), .. cells] : cells);
        }

        return listing;
    }

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
