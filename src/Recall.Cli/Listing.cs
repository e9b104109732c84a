using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Recall.Cli;

/// <summary>One cell of a <see cref="Listing"/>: what the table shows (Spectre markup) and what a JSON line holds.</summary>
/// <param name="Markup">The table's text, as markup (escaped where it is data).</param>
/// <param name="Value">The JSON value: a string, a whole or decimal number, a bool, a timestamp, a list of strings, or null.</param>
internal readonly record struct Cell(string Markup, object? Value)
{
    /// <summary>Text, shown as it is.</summary>
    public static Cell Text(string? text) => new(Spectre.Console.Markup.Escape(text ?? ""), text);

    /// <summary>A whole number.</summary>
    public static Cell Number(long value) => new(value.ToString(CultureInfo.InvariantCulture), value);

    /// <summary>A moment, shown in UTC to the millisecond; in JSON as ISO 8601.</summary>
    public static Cell Time(DateTimeOffset? value) =>
        value is { } time ? new(time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), time.ToUniversalTime()) : new("-", null);
}

/// <summary>
/// Rows that a command prints either as a table (on a terminal, or piped, at the console's width) or,
/// with <c>--json</c>, as JSON lines: one object per row, its keys the column names in snake case
/// ("persistence id" → <c>persistence_id</c>, "lag (events)" → <c>lag_events</c>).
/// </summary>
internal sealed class Listing
{
    /// <summary>Text as it is (ü, +, &lt;), escaped only where JSON requires it: the lines are for tools and people, not for HTML.</summary>
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly string[] _columns;
    private readonly string[] _keys;
    private readonly List<Cell[]> _rows = [];

    public Listing(params string[] columns)
    {
        _columns = columns;
        _keys = [.. columns.Select(Key)];
    }

    /// <summary>Whether no row was added.</summary>
    public bool IsEmpty => _rows.Count == 0;

    /// <summary>Right-aligns these columns of the table.</summary>
    public ISet<string> RightAligned { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Adds a row, one cell per column.</summary>
    public void Add(params Cell[] cells)
    {
        if (cells.Length != _columns.Length)
        {
            throw new ArgumentException($"A row of {cells.Length} cells for {_columns.Length} columns.", nameof(cells));
        }

        _rows.Add(cells);
    }

    /// <summary>Writes the rows as a table, or as JSON lines when <paramref name="json"/>.</summary>
    public void WriteTo(IAnsiConsole console, bool json)
    {
        if (json)
        {
            // Straight to the writer: a JSON line is never wrapped at the console's width.
            var writer = console.Profile.Out.Writer;
            foreach (var row in _rows)
            {
                writer.WriteLine(ToJson(row));
            }

            writer.Flush();
            return;
        }

        var table = new Table();
        foreach (var column in _columns)
        {
            var added = new TableColumn(column);
            if (RightAligned.Contains(column))
            {
                added.RightAligned();
            }

            table.AddColumn(added);
        }

        foreach (var row in _rows)
        {
            table.AddRow([.. row.Select(c => c.Markup)]);
        }

        console.Write(table);
    }

    /// <summary>"highest sequence number" → <c>highest_sequence_number</c>, "timestamp (UTC)" → <c>timestamp_utc</c>.</summary>
    internal static string Key(string column)
    {
        var key = new StringBuilder(column.Length);
        foreach (var c in column.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                key.Append(c);
            }
            else if (key.Length > 0 && key[^1] != '_')
            {
                key.Append('_');
            }
        }

        return key.ToString().TrimEnd('_');
    }

    private string ToJson(Cell[] row)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Relaxed.Encoder }))
        {
            json.WriteStartObject();
            for (var i = 0; i < row.Length; i++)
            {
                json.WritePropertyName(_keys[i]);
                var value = row[i].Value;
                JsonSerializer.Serialize(json, value, value?.GetType() ?? typeof(object), Relaxed); // strings, numbers, bools, times (ISO 8601), lists
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
