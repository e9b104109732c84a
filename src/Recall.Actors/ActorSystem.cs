using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Recall.Actors.Internal;

namespace Recall.Actors;

/// <summary>
/// A hierarchy of actors with shared settings, clock, logging and extensions. User actors live
/// under <c>/user</c>, the library's own under <c>/system</c>. Dispose (or
/// <see cref="TerminateAsync"/>) stops every actor, children before parents.
/// </summary>
[DebuggerDisplay("{Address}")]
public sealed partial class ActorSystem : IAsyncDisposable
{
    private readonly ActorCell _root;
    private readonly ActorCell _userGuardian;
    private readonly ActorCell _systemGuardian;
    private readonly TaskCompletionSource _terminated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<Type, object> _extensions = [];
    private readonly List<object> _extensionsInOrder = [];
    private long _deadLetterCount;
    private long _askCounter;
    private int _terminateRequested;

    private ActorSystem(string name, ActorSystemOptions options)
    {
        Name = name;
        Options = options;
        Throughput = options.Throughput;
        TimeProvider = options.TimeProvider;
        LoggerFactory = options.LoggerFactory;
        Logger = LoggerFactory.CreateLogger("Recall.Actors");
        Address = new Address(name, options.Host, options.Port);
        DeadLetters = new DeadLetterActorRef(this);
        Scheduler = new Scheduler(TimeProvider);

        var rootPath = ActorPath.Root(Address);
        _root = new ActorCell(this, null, Props.Create(() => new RootGuardian()), rootPath);
        _userGuardian = (((LocalActorRef)_root.Spawn(Props.Create(() => new Guardian()), "user")).Cell);
        _systemGuardian = (((LocalActorRef)_root.Spawn(Props.Create(() => new Guardian()), "system")).Cell);
        _root.SendSystem(new Create());
    }

    /// <summary>The system's name, the first part of every path.</summary>
    public string Name { get; }

    /// <summary>The address in every actor path of this system.</summary>
    public Address Address { get; }

    /// <summary>The settings the system was created with.</summary>
    public ActorSystemOptions Options { get; }

    /// <summary>The clock of timers, asks and receive timeouts.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The logger factory actors and extensions log through.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Schedules messages to be sent later, on <see cref="TimeProvider"/>.</summary>
    public Scheduler Scheduler { get; }

    /// <summary>The ref of undeliverable messages. Messages sent to it are counted and logged.</summary>
    public IActorRef DeadLetters { get; }

    /// <summary>How many messages could not be delivered since the system started.</summary>
    public long DeadLetterCount => Interlocked.Read(ref _deadLetterCount);

    /// <summary>Completes when every actor has stopped and extensions are disposed.</summary>
    public Task WhenTerminated => _terminated.Task;

    internal int Throughput { get; }

    internal ILogger Logger { get; }

    /// <summary>Creates and starts an actor system.</summary>
    /// <param name="name">The system name: letters, digits, '-' and '_'.</param>
    /// <param name="configure">Changes to the default options, if any.</param>
    public static ActorSystem Create(string name, Action<ActorSystemOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new ArgumentException($"Actor system name '{name}' contains '{c}'; use ASCII letters, digits, '-' and '_'.", nameof(name));
            }
        }

        var options = new ActorSystemOptions();
        configure?.Invoke(options);
        options.Validate();
        var system = new ActorSystem(name, options);
        foreach (var factory in options.Extensions)
        {
            var extension = factory(system);
            system._extensions[extension.GetType()] = extension;
            system._extensionsInOrder.Add(extension);
        }

        ActorMetrics.Track(system);
        return system;
    }

    /// <summary>Creates a top-level actor under <c>/user</c>.</summary>
    /// <param name="props">How to create it.</param>
    /// <param name="name">A name unique among top-level actors, or null for a generated one.</param>
    /// <exception cref="InvalidActorNameException">The name is malformed or taken.</exception>
    /// <exception cref="InvalidOperationException">The system is terminating or has terminated.</exception>
    public IActorRef Spawn(Props props, string? name = null)
    {
        // The guardian learns of termination asynchronously; refuse at once, not only once it has begun stopping.
        if (Volatile.Read(ref _terminateRequested) != 0)
        {
            throw new InvalidOperationException($"Cannot spawn a child of {_userGuardian.Self.Path}: actor system '{Name}' is terminating.");
        }

        return _userGuardian.Spawn(props, name);
    }

    /// <summary>Creates an actor under <c>/system</c>, for libraries built on the kernel.</summary>
    public IActorRef SpawnSystemActor(Props props, string? name = null) => _systemGuardian.Spawn(props, name);

    /// <summary>Stops an actor of this system, after the message it is handling.</summary>
    public void Stop(IActorRef actor)
    {
        ArgumentNullException.ThrowIfNull(actor);
        if (actor is not LocalActorRef local || local.System != this)
        {
            throw new ArgumentException($"{actor.Path} is not an actor of system '{Name}'.", nameof(actor));
        }

        local.Cell.StopFromOutside();
    }

    /// <summary>The extension of type <typeparamref name="T"/> registered in the options.</summary>
    /// <exception cref="InvalidOperationException">No such extension was registered.</exception>
    public T GetExtension<T>()
        where T : class =>
        TryGetExtension<T>() ?? throw new InvalidOperationException(
            $"Actor system '{Name}' has no {typeof(T).Name}; register it when creating the system.");

    /// <summary>The extension of type <typeparamref name="T"/>, or null.</summary>
    public T? TryGetExtension<T>()
        where T : class
    {
        if (_extensions.TryGetValue(typeof(T), out var exact))
        {
            return (T)exact;
        }

        foreach (var extension in _extensionsInOrder)
        {
            if (extension is T match)
            {
                return match;
            }
        }

        return null;
    }

    /// <summary>
    /// Stops all user actors (children before parents), then the system's own actors, then
    /// disposes the extensions. Completes when all have stopped; calling it again is harmless.
    /// </summary>
    public Task TerminateAsync()
    {
        if (Interlocked.Exchange(ref _terminateRequested, 1) == 0)
        {
            _userGuardian.StopFromOutside();
        }

        return _terminated.Task;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await TerminateAsync();

    /// <inheritdoc />
    public override string ToString() => Address.ToString();

    internal string NextAskName() => "ask-" + Interlocked.Increment(ref _askCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal ActorPath TempPath(string name) => ActorPath.Root(Address).Child("temp").Child(name);

    /// <summary>
    /// Counts and logs an undeliverable message. When it was asked (its sender is an ask's reply
    /// ref, not a reply to one), the ask fails at once with <see cref="AskFailedException"/>
    /// naming the recipient and <paramref name="reason"/>, instead of waiting for its timeout.
    /// </summary>
    internal void PublishDeadLetter(DeadLetter letter, string? reason = null)
    {
        if (letter.Message is TracedMessage traced)
        {
            letter = letter with { Message = traced.Message };
        }

        if (!ReferenceEquals(letter.Recipient, letter.Sender))
        {
            FailAsk(letter.Sender, letter.Recipient, letter.Message, "the message was not delivered: " + (reason ?? ReasonOf(letter.Recipient)));
        }

        var count = Interlocked.Increment(ref _deadLetterCount);
        var limit = Options.DeadLetterLogLimit;
        if (count <= limit)
        {
            Log.DeadLetter(Logger, letter.Message.GetType().Name, letter.Sender?.Path.ToString() ?? "no sender", letter.Recipient.Path);
            if (count == limit)
            {
                Log.DeadLetterLimit(Logger, limit);
            }
        }
    }

    /// <summary>
    /// When <paramref name="sender"/> is an ask still waiting for its answer, fails it at once with
    /// <see cref="AskFailedException"/> saying <paramref name="reason"/>; an ask of another process
    /// (a reply ref there) is sent the reason, and fails the same way; otherwise does nothing.
    /// </summary>
    internal static void FailAsk(IActorRef? sender, IActorRef recipient, object message, string reason, Exception? cause = null)
    {
        if (sender is PromiseActorRef promise)
        {
            if (!promise.Reply.IsCompleted)
            {
                var type = message is TracedMessage traced ? traced.Message.GetType() : message.GetType();
                promise.Fail(new AskFailedException(recipient.Path, type, reason, cause));
            }
        }
        else if (sender is IInternalActorRef other and not LocalActorRef && IsTempPath(sender.Path))
        {
            other.SendSystemMessage(new AskFailed(reason));
        }
    }

    private static bool IsTempPath(ActorPath path) => path.Parent is { Name: "temp", Parent.Parent: null };

    private static string ReasonOf(IActorRef recipient) => recipient switch
    {
        LocalActorRef { Cell.IsTerminated: true } => "the actor has stopped",
        LocalActorRef => "the actor is stopping",
        _ => "no actor lives at that path, or its node is gone",
    };

    internal void OnRootTerminated() => _ = FinishTerminationAsync();

    /// <summary>
    /// Calls <paramref name="visit"/> for every actor cell of the system, from the root down, from
    /// the calling thread (for metrics and graceful shutdown, never on the message path). Actors
    /// spawned or stopped meanwhile may or may not be visited.
    /// </summary>
    internal void VisitCells(Action<ActorCell> visit)
    {
        var pending = new List<ActorCell> { _root };
        while (pending.Count > 0)
        {
            var cell = pending[^1];
            pending.RemoveAt(pending.Count - 1);
            visit(cell);
            cell.AddChildrenTo(pending);
        }
    }

    /// <summary>About how many user messages wait in all mailboxes of the system.</summary>
    internal long CountMailboxDepth()
    {
        long depth = 0;
        VisitCells(cell => depth += cell.MailboxDepth);
        return depth;
    }

    private async Task FinishTerminationAsync()
    {
        for (var i = _extensionsInOrder.Count - 1; i >= 0; i--)
        {
            try
            {
                switch (_extensionsInOrder[i])
                {
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync();
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                }
            }
            catch (Exception exception)
            {
                Log.ExtensionDisposeFailed(Logger, exception, _extensionsInOrder[i].GetType().Name);
            }
        }

        ActorMetrics.Untrack(this);
        _terminated.TrySetResult();
    }

    /// <summary>Parent of all actors the user spawns (and of the library's own).</summary>
    private sealed class Guardian : Actor
    {
        protected override void Receive(object message) => Unhandled(message);
    }

    /// <summary>Stops the system guardian after the user guardian, then itself.</summary>
    private sealed class RootGuardian : Actor
    {
        protected override void PreStart()
        {
            Context.Watch(Context.Child("user")!);
        }

        protected override void Receive(object message)
        {
            if (message is Terminated { Actor.Path.Name: "user" })
            {
                var systemGuardian = Context.Child("system");
                if (systemGuardian is null)
                {
                    Context.Stop(Self);
                    return;
                }

                Context.Watch(systemGuardian);
                Context.Stop(systemGuardian);
            }
            else if (message is Terminated { Actor.Path.Name: "system" })
            {
                Context.Stop(Self);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "Dead letter: {MessageType} from {Sender} to {Recipient} was not delivered")]
        public static partial void DeadLetter(ILogger logger, string messageType, string sender, ActorPath recipient);

        [LoggerMessage(101, LogLevel.Information, "{Limit} dead letters logged; further ones are counted (ActorSystem.DeadLetterCount) but not logged")]
        public static partial void DeadLetterLimit(ILogger logger, int limit);

        [LoggerMessage(102, LogLevel.Error, "Disposing extension {Extension} failed")]
        public static partial void ExtensionDisposeFailed(ILogger logger, Exception exception, string extension);
    }
}
