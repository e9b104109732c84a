using Recall.Actors;
using Recall.Actors.Internal;

namespace Recall.Remoting.Internal;

/// <summary>
/// A path in a record: a number the stream's table gave it, or its text inline. Written as one
/// number: 0 for none, <c>id &lt;&lt; 1</c> for a table entry, 1 followed by the text for an inline
/// path. Paths of pending asks (<c>/temp/...</c>) go inline: each is used once or twice, and a
/// table entry would outlive it.
/// </summary>
internal readonly record struct PathRef(long Number, ActorPath? Inline)
{
    public static PathRef None => default;

    public bool IsNone => Number == 0 && Inline is null;

    public void WriteTo(FrameWriter writer)
    {
        if (Inline is { } path)
        {
            writer.Number(1);
            writer.Text(path.ToString());
        }
        else
        {
            writer.Number(Number << 1);
        }
    }

    public static PathRef ReadFrom(ref FrameReader reader)
    {
        var value = reader.Number();
        if ((value & 1) == 0)
        {
            return new PathRef(value >> 1, null);
        }

        var text = reader.Text();
        return new PathRef(0, ActorPath.TryParse(text, out var path) ? path : throw new InvalidDataException($"'{text}' in a remoting frame is not an actor path."));
    }

    public static bool GoesInline(ActorPath path) => path.Parent is { Name: "temp", Parent.Parent: null };
}

/// <summary>The numbers the writer of one stream gave to paths and manifests (both sides forget them with the stream).</summary>
internal sealed class OutboundTables(int capacity = OutboundTables.DefaultCapacity)
{
    public const int DefaultCapacity = 100_000;
    private readonly Dictionary<string, long> _paths = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _manifests = new(StringComparer.Ordinal);

    public void Clear()
    {
        _paths.Clear();
        _manifests.Clear();
    }

    /// <summary>
    /// Makes room for the entries one record may define (at most three), before any of them is
    /// numbered: a reset in the middle of a record would leave its first numbers pointing nowhere.
    /// </summary>
    public void Reserve(FrameWriter writer)
    {
        if (_paths.Count + _manifests.Count + 3 > capacity)
        {
            // A long-lived stream to many short-lived actors: start over rather than grow without bound.
            Clear();
            writer.Kind(RecordKind.ResetTables);
        }
    }

    public PathRef Path(ActorPath path, FrameWriter writer) =>
        PathRef.GoesInline(path) ? new PathRef(0, path) : new PathRef(Number(_paths, path.ToString(), RecordKind.DefinePath, writer), null);

    public long Manifest(string manifest, FrameWriter writer) => Number(_manifests, manifest, RecordKind.DefineManifest, writer);

    private static long Number(Dictionary<string, long> table, string text, RecordKind define, FrameWriter writer)
    {
        if (table.TryGetValue(text, out var number))
        {
            return number;
        }

        number = table.Count + 1;
        table.Add(text, number);
        writer.Kind(define);
        writer.Number(number);
        writer.Text(text);
        return number;
    }
}

/// <summary>What the reader of one stream learnt: paths and manifests by number, and the refs they resolved to.</summary>
internal sealed class InboundTables
{
    private readonly List<ActorPath?> _paths = [null];
    private readonly List<IActorRef?> _refs = [null];
    private readonly List<string?> _manifests = [null];
    private readonly List<Type?> _types = [null];

    public void Clear()
    {
        _paths.RemoveRange(1, _paths.Count - 1);
        _refs.RemoveRange(1, _refs.Count - 1);
        _manifests.RemoveRange(1, _manifests.Count - 1);
        _types.RemoveRange(1, _types.Count - 1);
    }

    public void DefinePath(long number, string text)
    {
        Expect(number, _paths.Count, "path");
        _paths.Add(ActorPath.TryParse(text, out var path) ? path : throw new InvalidDataException($"'{text}' in a remoting frame is not an actor path."));
        _refs.Add(null);
    }

    public void DefineManifest(long number, string manifest)
    {
        Expect(number, _manifests.Count, "manifest");
        _manifests.Add(manifest);
        _types.Add(null);
    }

    public ActorPath Path(PathRef path) =>
        path.Inline ?? (path.Number > 0 && path.Number < _paths.Count ? _paths[(int)path.Number]! : throw new InvalidDataException($"Path number {path.Number} was not defined on this stream."));

    public string Manifest(long number) =>
        number > 0 && number < _manifests.Count ? _manifests[(int)number]! : throw new InvalidDataException($"Manifest number {number} was not defined on this stream.");

    /// <summary>The local actor at <paramref name="path"/>, looked up again when the one found before has stopped; null when none lives there.</summary>
    public IInternalActorRef? Local(PathRef path, ActorSystem system)
    {
        if (path.Inline is { } inline)
        {
            return system.LookupLocal(inline);
        }

        var cached = _refs[Checked(path.Number)] as IInternalActorRef;
        if (cached is null || cached is LocalActorRef { Cell.IsTerminated: true })
        {
            cached = system.LookupLocal(Path(path));
            _refs[(int)path.Number] = cached;
        }

        return cached;
    }

    /// <summary>
    /// The ref of <paramref name="path"/> as a sender or watcher: resolved once per stream, and again
    /// when the one found before is gone (its node's association ended, its actor stopped, or nothing
    /// lived there then).
    /// </summary>
    public IActorRef Resolve(PathRef path, ActorSystem system)
    {
        if (path.Inline is { } inline)
        {
            return system.ResolvePath(inline);
        }

        var index = Checked(path.Number);
        var cached = _refs[index];
        if (cached is null or MissingActorRef or RemoteActorRef { Association.IsGone: true } or LocalActorRef { Cell.IsTerminated: true })
        {
            cached = system.ResolvePath(Path(path));
            _refs[index] = cached;
        }

        return cached;
    }

    public Type Type(long number, Func<string, Type> resolve)
    {
        var index = number > 0 && number < _types.Count ? (int)number : throw new InvalidDataException($"Manifest number {number} was not defined on this stream.");
        return _types[index] ??= resolve(Manifest(number));
    }

    private int Checked(long number) =>
        number > 0 && number < _paths.Count ? (int)number : throw new InvalidDataException($"Path number {number} was not defined on this stream.");

    private static void Expect(long number, int next, string what)
    {
        if (number != next)
        {
            throw new InvalidDataException($"A remoting frame defined {what} number {number} where {next} was expected.");
        }
    }
}
