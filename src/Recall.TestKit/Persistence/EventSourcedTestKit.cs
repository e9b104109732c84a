using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.TestKit.Persistence;

/// <summary>What one command did to a typed event-sourced actor.</summary>
/// <param name="Events">The events it persisted, in order (empty when it persisted none).</param>
/// <param name="State">The state after its events were applied.</param>
/// <param name="Reply">The reply it sent, if the command was run with a reply ref; otherwise null.</param>
public sealed record CommandResult<TEvent, TState>(IReadOnlyList<TEvent> Events, TState State, object? Reply)
{
    /// <summary>Whether the command persisted nothing.</summary>
    public bool HasNoEvents => Events.Count == 0;

    /// <summary>The single event the command persisted.</summary>
    /// <exception cref="TestKitException">It persisted none or several.</exception>
    public TEvent Event => Events.Count == 1 ? Events[0] : throw new TestKitException($"Expected one event but the command persisted {Events.Count}.");

    /// <summary>The reply as a <typeparamref name="TReply"/>.</summary>
    /// <exception cref="TestKitException">There was no reply, or one of another type.</exception>
    public TReply ReplyOfType<TReply>() => Reply is TReply typed
        ? typed
        : throw new TestKitException($"Expected a {typeof(TReply).Name} reply but got {Reply?.GetType().Name ?? "none"}.");
}

/// <summary>
/// Runs commands against one typed event-sourced actor on an in-memory journal and reports the
/// persisted events, the new state and the reply. By default it also checks that every event and
/// every state round-trips through the system's serialization (serialize, deserialize, compare
/// with Equals), so a type that would not survive a real store fails here first.
/// </summary>
public sealed class EventSourcedTestKit<TCommand, TEvent, TState> : IAsyncDisposable
    where TCommand : notnull
    where TEvent : notnull
    where TState : notnull
{
    private readonly ActorSystem _system;
    private readonly Func<EventSourcedActor<TCommand, TEvent, TState>> _factory;
    private readonly TimeSpan _timeout;
    private IActorRef _actor;
    private int _incarnation;

    /// <summary>Starts the actor that <paramref name="factory"/> creates, on an in-memory journal.</summary>
    /// <param name="factory">Creates the actor (again on <see cref="RestartAsync"/>).</param>
    /// <param name="configure">Further persistence settings: event registrations, adapters.</param>
    /// <param name="timeout">How long to wait for the actor; default <see cref="TestKitSettings.DefaultTimeout"/>.</param>
    public EventSourcedTestKit(Func<EventSourcedActor<TCommand, TEvent, TState>> factory, Action<PersistenceOptions>? configure = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _factory = factory;
        _timeout = timeout ?? TestKitSettings.DefaultTimeout;
        _system = ActorSystem.Create("event-sourced-test-kit", o => o.UsePersistence(p =>
        {
            p.UseInMemory();
            configure?.Invoke(p);
        }));
        Persistence = _system.Persistence();
        _actor = Spawn();
    }

    /// <summary>Whether events and states must round-trip through serialization. Default true.</summary>
    public bool CheckSerialization { get; set; } = true;

    /// <summary>The system's persistence (journal, serialization) for extra checks.</summary>
    public PersistenceExtension Persistence { get; }

    /// <summary>Runs a command that needs no reply.</summary>
    public async Task<CommandResult<TEvent, TState>> RunCommandAsync(TCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var before = await StateAsync();
        _actor.Tell(command, null);
        return await ResultAsync(before.LastSequenceNumber, reply: null);
    }

    /// <summary>Runs a command made with a reply ref, and waits for the reply.</summary>
    public async Task<CommandResult<TEvent, TState>> RunCommandAsync<TReply>(Func<IReplyTo<TReply>, TCommand> createCommand)
    {
        ArgumentNullException.ThrowIfNull(createCommand);
        var before = await StateAsync();
        var reply = await _actor.Ask<TReply>(replyTo => createCommand(replyTo), _timeout);
        return await ResultAsync(before.LastSequenceNumber, reply);
    }

    /// <summary>Blocking form of <see cref="RunCommandAsync(TCommand)"/>.</summary>
    public CommandResult<TEvent, TState> RunCommand(TCommand command) => RunCommandAsync(command).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="RunCommandAsync{TReply}"/>.</summary>
    public CommandResult<TEvent, TState> RunCommand<TReply>(Func<IReplyTo<TReply>, TCommand> createCommand) =>
        RunCommandAsync(createCommand).GetAwaiter().GetResult();

    /// <summary>The actor's current state.</summary>
    public async Task<TState> GetStateAsync() => (TState)(await StateAsync()).State;

    /// <summary>Stops the actor and starts it again: it recovers from the journal. Returns the recovered state.</summary>
    public async Task<TState> RestartAsync()
    {
        var probe = new TestProbe(_system);
        probe.Watch(_actor);
        _system.Stop(_actor);
        await probe.ExpectTerminatedAsync(_actor, _timeout);
        _actor = Spawn();
        return await GetStateAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _system.TerminateAsync();

    private IActorRef Spawn() => _system.Spawn(Props.Create(_factory), $"actor-{++_incarnation}");

    private Task<TypedStateReply> StateAsync() => _actor.Ask<TypedStateReply>(new TypedStateRequest(), _timeout);

    private async Task<CommandResult<TEvent, TState>> ResultAsync(long sequenceNumberBefore, object? reply)
    {
        // The state request waits behind the command's writes, so it sees their handlers' result.
        var after = await StateAsync();
        var events = new List<TEvent>();
        await foreach (var repr in Persistence.Journal.ReplayAsync(after.PersistenceId, sequenceNumberBefore + 1, after.LastSequenceNumber, long.MaxValue, CancellationToken.None))
        {
            events.Add((TEvent)repr.Payload);
        }

        var state = (TState)after.State;
        if (CheckSerialization)
        {
            foreach (var @event in events)
            {
                RoundTrip(@event, "event");
            }

            RoundTrip(state, "state");
        }

        return new CommandResult<TEvent, TState>(events, state, reply);
    }

    private void RoundTrip(object value, string what)
    {
        var serialization = Persistence.Serialization;
        SerializedPayload stored;
        try
        {
            stored = serialization.Serialize(value);
        }
        catch (Exception exception)
        {
            throw new TestKitException($"The {what} {value} cannot be serialized: {exception.Message}");
        }

        var back = serialization.Deserialize(stored.Manifest, stored.Data);
        if (!Equals(back, value))
        {
            throw new TestKitException($"The {what} {value} does not round-trip through serialization (manifest '{stored.Manifest}'): it came back as {back}.");
        }
    }
}
