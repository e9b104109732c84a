using System.Collections.Concurrent;
using Recall.Actors.Internal;

namespace Recall.Actors;

/// <summary>Finding actors by path: of this system, or of another one through remoting.</summary>
public sealed partial class ActorSystem
{
    private static readonly TimeSpan DefaultResolveTimeout = TimeSpan.FromSeconds(10);

    // Ask refs that went to another process as a sender: replies come back by path.
    private readonly ConcurrentDictionary<string, IInternalActorRef> _tempRefs = new(StringComparer.Ordinal);

    /// <summary>The transport to other systems, set by remoting when it starts; null for a local-only system.</summary>
    internal IRemoteProvider? RemoteProvider { get; set; }

    /// <summary>
    /// Finds the actor at <paramref name="path"/>, for example
    /// <c>recall://shop@10.0.0.5:7400/user/wallets</c>. An actor of this system is looked up at
    /// once; an actor of another system is asked for through remoting, which also opens the
    /// connection to its node.
    /// </summary>
    /// <param name="path">The actor's full path.</param>
    /// <param name="timeout">How long to wait for a remote node to answer; default 10 s.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="FormatException">The path is malformed.</exception>
    /// <exception cref="ActorNotFoundException">No actor has that path, or its node did not answer in time.</exception>
    public Task<IActorRef> ResolveAsync(string path, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ResolveAsync(ActorPath.Parse(path), timeout, cancellationToken);

    /// <inheritdoc cref="ResolveAsync(string, TimeSpan?, CancellationToken)"/>
    public Task<IActorRef> ResolveAsync(ActorPath path, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (IsOwnAddress(path.Address))
        {
            return LookupLocal(path) is { } found
                ? Task.FromResult<IActorRef>(found)
                : Task.FromException<IActorRef>(new ActorNotFoundException(path, $"system '{Name}' has no actor with this path"));
        }

        if (RemoteProvider is not { } remote)
        {
            return Task.FromException<IActorRef>(new ActorNotFoundException(
                path, $"it belongs to another system and '{Name}' has no remoting (configure it with UseRemoting)"));
        }

        return remote.IdentifyAsync(path, timeout ?? DefaultResolveTimeout, cancellationToken);
    }

    /// <summary>
    /// The ref for a path that arrived in a message or a stored value, without any network call:
    /// a local actor, a remote ref, or a ref whose messages become dead letters when nothing lives there.
    /// </summary>
    internal IActorRef ResolvePath(ActorPath path)
    {
        if (IsOwnAddress(path.Address))
        {
            return LookupLocal(path) ?? new MissingActorRef(this, path);
        }

        return RemoteProvider?.RefFor(path) ?? new MissingActorRef(this, path);
    }

    /// <summary>Whether <paramref name="address"/> names this system (a local-only address with its name, or its own host and port).</summary>
    internal bool IsOwnAddress(Address address) =>
        address.Equals(Address) || (address.IsLocal && string.Equals(address.System, Name, StringComparison.Ordinal));

    /// <summary>The live actor (or pending ask) of this system at <paramref name="path"/>, or null.</summary>
    internal IInternalActorRef? LookupLocal(ActorPath path)
    {
        var elements = path.Elements;
        if (elements.Count == 0)
        {
            return _root.Self as IInternalActorRef;
        }

        switch (elements[0])
        {
            case "temp":
                return elements.Count == 2 && _tempRefs.TryGetValue(elements[1], out var temp) ? temp : null;
            case "deadLetters":
                return elements.Count == 1 ? (IInternalActorRef)DeadLetters : null;
        }

        var cell = _root;
        foreach (var name in elements)
        {
            if (cell.Child(name) is not LocalActorRef child)
            {
                return null;
            }

            cell = child.Cell;
        }

        return cell.IsTerminated ? null : (IInternalActorRef)cell.Self;
    }

    /// <summary>
    /// Makes a pending ask reachable by path (its reply may come from another process) until it
    /// completes, times out or is cancelled.
    /// </summary>
    internal void RegisterTempRef(PromiseActorRef promise)
    {
        var name = promise.Path.Name;
        if (_tempRefs.TryAdd(name, promise))
        {
            promise.Reply.ContinueWith(
                static (_, state) =>
                {
                    var (refs, key) = ((ConcurrentDictionary<string, IInternalActorRef>, string))state!;
                    refs.TryRemove(key, out IInternalActorRef? _);
                },
                (_tempRefs, name),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>How many pending asks are reachable by path (for tests of their cleanup).</summary>
    internal int TempRefCount => _tempRefs.Count;
}

/// <summary>The transport remoting plugs into the kernel: refs for other systems' paths, and lookup across the network.</summary>
internal interface IRemoteProvider
{
    /// <summary>A ref for an actor of another system; no network call.</summary>
    IActorRef RefFor(ActorPath path);

    /// <summary>Asks the other system whether an actor lives at <paramref name="path"/>.</summary>
    Task<IActorRef> IdentifyAsync(ActorPath path, TimeSpan timeout, CancellationToken cancellationToken);
}
