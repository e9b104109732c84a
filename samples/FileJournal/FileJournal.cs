using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Samples.FileJournal;

/// <summary>
/// A journal of one's own, small enough to read in one go: one append-only file of JSON lines per
/// persistence id in a folder. Each line is an event, a raised fence or a deletion mark; a write
/// appends its lines in one call and flushes them to disk before it reports success. One lock
/// serializes everything, which keeps it simple and slow: a sample, not a store for production.
/// </summary>
/// <param name="folder">Where the files live (created when missing).</param>
/// <param name="serialization">The manifest registry and serializer the actor system uses.</param>
public sealed class FileJournal(string folder, EventSerialization serialization) : IJournal, IFencingJournal
{
    private readonly Dictionary<string, History> _histories = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var results = new Exception?[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            string lines;
            try
            {
                // Serializing first: an event that cannot be stored rejects its own write only.
                lines = string.Concat(write.Events.Select(e => EventLine(e, serialization.Serialize(e.Payload))));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                results[i] = exception;
                continue;
            }

            lock (_gate)
            {
                var history = Load(write.PersistenceId);
                if (write.FencingToken is { } token && token < history.Fence)
                {
                    results[i] = new FencedWriteException(write.PersistenceId, write.LowestSequenceNumber, token);
                    continue;
                }

                if (write.LowestSequenceNumber <= history.Highest)
                {
                    results[i] = new SequenceConflictException(write.PersistenceId, write.LowestSequenceNumber);
                    continue;
                }

                if (write.FencingToken is { } raised && raised > history.Fence)
                {
                    lines += JsonSerializer.Serialize(new Line { Fence = raised }) + "\n";
                    history.Fence = raised;
                }

                Append(history, lines); // an I/O error here fails the whole call: nothing may be assumed stored
                history.Highest = write.HighestSequenceNumber;
            }
        }

        return ValueTask.FromResult<IReadOnlyList<Exception?>>(results);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<PersistentRepr> ReplayAsync(
        string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(persistenceId);
        List<Line> events;
        lock (_gate)
        {
            var history = Load(persistenceId);
            var from = Math.Max(fromSequenceNumber, history.DeletedTo + 1);
            events = [.. ReadLines(history.File).Where(l => l.Seq >= from && l.Seq <= toSequenceNumber).Take((int)Math.Min(max, int.MaxValue))];
        }

        foreach (var line in events)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return new PersistentRepr(persistenceId, line.Seq, serialization.Deserialize(line.Manifest!, Convert.FromBase64String(line.Payload!)))
            {
                Manifest = line.Manifest!,
                WriterId = line.Writer ?? "",
                Timestamp = new DateTimeOffset(line.Ticks, TimeSpan.Zero),
                Tags = line.Tags ?? [],
            };
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(Load(persistenceId).Highest);
        }
    }

    /// <inheritdoc />
    public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var history = Load(persistenceId);
            var to = Math.Min(toSequenceNumber, history.Highest); // the highest sequence number stays
            if (to > history.DeletedTo)
            {
                Append(history, JsonSerializer.Serialize(new Line { DeletedTo = to }) + "\n");
                history.DeletedTo = to;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> FenceAsync(string persistenceId, long token, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var history = Load(persistenceId);
            if (token < history.Fence)
            {
                return ValueTask.FromResult(false);
            }

            if (token > history.Fence)
            {
                Append(history, JsonSerializer.Serialize(new Line { Fence = token }) + "\n");
                history.Fence = token;
            }

            return ValueTask.FromResult(true);
        }
    }

    private static string EventLine(PersistentRepr e, SerializedPayload payload) =>
        JsonSerializer.Serialize(new Line
        {
            Seq = e.SequenceNumber,
            Writer = e.WriterId,
            Ticks = e.Timestamp.UtcTicks,
            Manifest = payload.Manifest,
            Tags = [.. e.Tags],
            Payload = Convert.ToBase64String(payload.Data),
        }) + "\n";

    /// <summary>Appends and flushes to disk: only then is the write durable, and may be reported stored.</summary>
    private static void Append(History history, string lines)
    {
        using var file = new FileStream(history.File, FileMode.Append, FileAccess.Write, FileShare.Read);
        file.Write(Encoding.UTF8.GetBytes(lines));
        file.Flush(flushToDisk: true);
    }

    /// <summary>What the file of <paramref name="persistenceId"/> says, read once and then kept up to date.</summary>
    private History Load(string persistenceId)
    {
        if (_histories.TryGetValue(persistenceId, out var history))
        {
            return history;
        }

        Directory.CreateDirectory(folder);

        // Any persistence id is a safe file name once hashed.
        var name = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(persistenceId)));
        history = new History(Path.Combine(folder, name + ".jsonl"));
        RepairTornEnd(history.File);
        foreach (var line in ReadLines(history.File, events: false))
        {
            history.Highest = Math.Max(history.Highest, line.Seq);
            history.Fence = Math.Max(history.Fence, line.Fence);
            history.DeletedTo = Math.Max(history.DeletedTo, line.DeletedTo);
        }

        _histories[persistenceId] = history;
        return history;
    }

    /// <summary>
    /// A crash in the middle of an append leaves a last line without its newline: that write was
    /// never reported stored, so it is cut off, and the next append starts on a line of its own.
    /// </summary>
    private static void RepairTornEnd(string file)
    {
        if (!File.Exists(file))
        {
            return;
        }

        var bytes = File.ReadAllBytes(file);
        var end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (end < bytes.Length)
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Write);
            stream.SetLength(end);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>The lines of the file; with <paramref name="events"/>, the events only, in order.</summary>
    private static IEnumerable<Line> ReadLines(string file, bool events = true)
    {
        if (!File.Exists(file))
        {
            yield break;
        }

        foreach (var text in File.ReadLines(file))
        {
            var line = JsonSerializer.Deserialize<Line>(text)!;
            if (!events || line.Manifest is not null)
            {
                yield return line;
            }
        }
    }

    private sealed class History(string file)
    {
        public string File { get; } = file;

        public long Highest { get; set; }

        public long DeletedTo { get; set; }

        public long Fence { get; set; }
    }

    /// <summary>One line of a file: an event (with a manifest), a fence, or a deletion mark.</summary>
    private sealed class Line
    {
        public long Seq { get; init; }

        public string? Writer { get; init; }

        public long Ticks { get; init; }

        public string? Manifest { get; init; }

        public string[]? Tags { get; init; }

        public string? Payload { get; init; }

        public long Fence { get; init; }

        public long DeletedTo { get; init; }
    }
}
