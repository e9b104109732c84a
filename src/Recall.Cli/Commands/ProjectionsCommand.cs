using System.Globalization;
using Recall.Projections;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli.Commands;

/// <summary><c>recall projections</c>: the projection offsets of a database and their lag, read without changing anything.</summary>
internal sealed class ProjectionsModule : ICommandModule
{
    public int Order => 35;

    public void Register(IConfigurator app) =>
        app.AddCommand<ProjectionsCommand>("projections")
            .WithDescription("The projections of a SQLite file or PostgreSQL schema: state, offset, lag behind the journal, last error. Read-only.")
            .WithExample("projections", "shop.db")
            .WithExample("projections", "--postgres", "\"Host=db;Database=shop;Username=app\"", "--schema", "shop_events");
}

/// <summary><c>recall projections</c>.</summary>
internal sealed class ProjectionsCommand(IAnsiConsole console) : AsyncCommand<ListingSettings>
{
    /// <summary>How much of a last error the table shows.</summary>
    internal const int ErrorWidth = 80;

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, ListingSettings settings, CancellationToken cancellationToken)
    {
        var (location, rows) = await JournalOutput.ReadAsync(console, settings, ct => ProjectionsReader.ReadAsync(settings, TimeProvider.System, ct), cancellationToken);
        if (rows.Count == 0)
        {
            if (!settings.Json)
            {
                console.WriteLine($"no projections in {location} (it has no recall_projection_offsets table, or the table is empty)");
            }

            return 0;
        }

        var listing = new Listing("name", "key", "state", "offset", "last event (UTC)", "lag (events)", "lag (time)", "updated (UTC)", "last error");
        var unknown = new List<string>();
        foreach (var (projection, lag) in rows)
        {
            string events, time;
            if (lag.Events is { } waiting)
            {
                events = (lag.AtLeast ? "≥ " : "") + Number(waiting);
                time = Duration(lag.Time!.Value);
            }
            else
            {
                events = "?";
                time = lag.Time is { } age ? $"? ({Duration(age)} since last event)" : "?";
                unknown.Add($"{projection.Id}: {lag.Unknown}");
            }

            listing.Add(
                Cell.Text(projection.Id.Name),
                Cell.Text(projection.Id.Key),
                new(State(projection.State), projection.State.ToString().ToLowerInvariant()),
                new(OffsetText(projection.Offset), OffsetText(projection.Offset)),
                Cell.Time(projection.LastEventTimestamp),
                new(Markup.Escape(events), lag.Events), // JSON: null when unknown; a lower bound when "≥"
                new(Markup.Escape(time), lag.Time?.TotalSeconds),
                Cell.Time(projection.UpdatedAt),
                new(Markup.Escape(Shorten(projection.LastError)), projection.LastError)); // JSON: the whole error
        }

        listing.WriteTo(console, settings.Json);
        if (!settings.Json)
        {
            foreach (var line in unknown)
            {
                console.WriteLine($"? {line}; the time shown is the age of the last handled event");
            }
        }

        return 0;
    }

    /// <summary>The first line of <paramref name="error"/>, cut to <see cref="ErrorWidth"/> characters; empty for none.</summary>
    internal static string Shorten(string? error)
    {
        if (string.IsNullOrEmpty(error))
        {
            return "";
        }

        var line = error.Split(['\r', '\n'], 2)[0].Trim();
        return line.Length <= ErrorWidth ? line : string.Concat(line.AsSpan(0, ErrorWidth - 1), "…");
    }

    /// <summary>A duration for people: <c>0s</c>, <c>12.3s</c>, <c>4m 05s</c>, <c>2h 03m</c>, <c>3d 04h</c>.</summary>
    internal static string Duration(TimeSpan span) => span switch
    {
        { TotalDays: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalDays}d {span.Hours:00}h"),
        { TotalHours: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours}h {span.Minutes:00}m"),
        { TotalMinutes: >= 1 } => string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes}m {span.Seconds:00}s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(span.TotalSeconds * 10) / 10:0.#}s"),
    };

    private static string State(ProjectionState state) => state switch
    {
        ProjectionState.Running => "[green]running[/]",
        ProjectionState.Paused => "[yellow]paused[/]",
        ProjectionState.Failed => "[red]failed[/]",
        _ => "stopped",
    };

    private static string OffsetText(Persistence.Query.Offset offset) =>
        offset == Persistence.Query.Offset.Start ? "-"
        : offset.Transaction == 0 ? Number(offset.Ordering)
        : $"{Number(offset.Transaction)}/{Number(offset.Ordering)}";

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
