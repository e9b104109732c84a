using System.Globalization;
using Recall.Persistence.Journal;
using Recall.Persistence.Sqlite;
using Spectre.Console;

namespace Recall.Cli;

/// <summary><c>recall journal ids|events|tail FILE</c>: reads a journal file without changing it.</summary>
internal static class JournalCommands
{
    public static int Run(string[] args, IAnsiConsole console)
    {
        try
        {
            switch (args)
            {
                case ["ids", var file]:
                    {
                        using var journal = new SqliteJournalInspector(file);
                        var table = new Table().AddColumns("persistence id", "events", "highest sequence number");
                        foreach (var (id, events, highest) in journal.PersistenceIds())
                        {
                            table.AddRow(Markup.Escape(id), Number(events), Number(highest));
                        }

                        console.Write(table);
                        return 0;
                    }

                case ["events", var file, var id]:
                    {
                        using var journal = new SqliteJournalInspector(file);
                        var events = journal.Events(id);
                        if (events.Count == 0)
                        {
                            console.MarkupLine($"[red]error:[/] no events for persistence id '{Markup.Escape(id)}' in {Markup.Escape(journal.Path)}");
                            return 1;
                        }

                        console.Write(EventTable(events, withId: false));
                        return 0;
                    }

                case ["tail", var file, ..] when args.Length <= 3:
                    {
                        var count = args.Length == 3 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
                        using var journal = new SqliteJournalInspector(file);
                        console.Write(EventTable(journal.Tail(count), withId: true));
                        return 0;
                    }

                default:
                    console.WriteLine("usage: recall journal ids FILE | events FILE PERSISTENCE-ID | tail FILE [COUNT]");
                    return 2;
            }
        }
        catch (SqliteStoreException exception)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(exception.Message)}");
            return 1;
        }
        catch (FormatException)
        {
            console.MarkupLine("[red]error:[/] COUNT must be a whole number");
            return 2;
        }
    }

    private static Table EventTable(IEnumerable<StoredEventRow> events, bool withId)
    {
        var table = new Table();
        if (withId)
        {
            table.AddColumn("persistence id");
        }

        table.AddColumns("seq", "timestamp (UTC)", "manifest", "payload", "tags");
        foreach (var e in events)
        {
            var cells = new List<string>();
            if (withId)
            {
                cells.Add(Markup.Escape(e.PersistenceId));
            }

            cells.Add(Number(e.SequenceNumber));
            cells.Add(e.Timestamp.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture));
            cells.Add(Markup.Escape(e.Manifest));
            cells.Add(Markup.Escape(e.Payload));
            cells.Add(Markup.Escape(string.Join(", ", e.Tags)));
            table.AddRow([.. cells]);
        }

        return table;
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
