using Recall.Actors;
using Recall.Actors.Internal;

namespace Recall.Remoting.Internal;

/// <summary>The numbers the writer of one stream gave to paths and manifests (both sides forget them with the stream).</summary>
internal sealed class OutboundTables
{
    private const int Capacity = 100_000;
    private readonly Dictionary<string, long> _paths = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _manifests = new(StringComparer.Ordinal);

    public void Clear()
    {
        _paths.Clear();
        _manifests.Clear();
    }

    public long Path(ActorPath path, FrameWriter writer) => Number(_paths, path.ToString(), RecordKind.DefinePath, writer);

    public long Manifest(string manifest, FrameWriter writer) => Number(_manifests, manifest, RecordKind.DefineManifest, writer);

    private long Number(Dictionary<string, long> table, string text, RecordKind define, FrameWriter writer)
    {
        if (table.TryGetValue(text, out var number))
        {
            return number;
        }

        if (_paths.Count + _manifests.Count >= Capacity)
        {
            // A long-lived stream to many short-lived actors: start over rather than grow without bound.
            Clear();
            writer.Kind(RecordKind.ResetTables);
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

    public ActorPath Path(long number) =>
        number > 0 && number < _paths.Count ? _paths[(int)number]! : throw new InvalidDataException($"Path number {number} was not defined on this stream.");

    public string Manifest(long number) =>
        number > 0 && number < _manifests.Count ? _manifests[(int)number]! : throw new InvalidDataException($"Manifest number {number} was not defined on this stream.");

    /// <summary>The local actor at path <paramref name="number"/>, looked up again when the one found before has stopped; null when none lives there.</summary>
    public IInternalActorRef? Local(long number, ActorSystem system)
    {
        var path = Path(number);
        var cached = _refs[(int)number] as IInternalActorRef;
        if (cached is null || cached is LocalActorRef { Cell.IsTerminated: true } || cached is PromiseActorRef { Reply.IsCompleted: true })
        {
            cached = system.LookupLocal(path);
            _refs[(int)number] = cached;
        }

        return cached;
    }

    /// <summary>The ref of path <paramref name="number"/> as a sender: resolved once per stream.</summary>
    public IActorRef Resolve(long number, ActorSystem system)
    {
        var path = Path(number);
        return _refs[(int)number] ??= system.ResolvePath(path);
    }

    public Type Type(long number, Func<string, Type> resolve) =>
        _types[(int)number > 0 && number < _types.Count ? (int)number : throw new InvalidDataException($"Manifest number {number} was not defined on this stream.")]
            ??= resolve(Manifest(number));

    private static void Expect(long number, int next, string what)
    {
        if (number != next)
        {
            throw new InvalidDataException($"A remoting frame defined {what} number {number} where {next} was expected.");
        }
    }
}
