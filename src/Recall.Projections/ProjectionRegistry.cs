using Recall.Actors;
using Recall.Persistence;
using Recall.Projections.Internal;

namespace Recall.Projections;

/// <summary>
/// The projections running in one actor system. Enable it with <c>UseProjections()</c> when creating
/// the system and reach it with <c>system.Projections()</c>. When the system terminates, every
/// projection stops after its batch in flight, before the stores close.
/// </summary>
public sealed class ProjectionRegistry : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly Lock _lock = new();
    private readonly Dictionary<ProjectionId, ProjectionHandle> _running = [];
    private bool _closed;

    internal ProjectionRegistry(ActorSystem system)
    {
        _system = system;

        // System actors stop before any extension is disposed: this one stops the projections while
        // the journal they read is still open, whatever order the extensions were registered in.
        system.SpawnSystemActor(Props.Create(() => new StopOnTermination(this)), "projections");
    }

    /// <summary>The projections running now.</summary>
    public IReadOnlyList<ProjectionHandle> Running
    {
        get
        {
            lock (_lock)
            {
                return [.. _running.Values];
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="projection"/> in the background: it reads its stored offset, then the
    /// events after it, and goes on with new events until it is stopped or the system terminates.
    /// </summary>
    /// <exception cref="InvalidOperationException">A projection with the same id runs already, or the system is terminating.</exception>
    /// <exception cref="ArgumentException">A setting of <see cref="Projection.Options"/> is invalid.</exception>
    public ProjectionHandle Start(Projection projection)
    {
        ArgumentNullException.ThrowIfNull(projection);
        var id = projection.Id;
        projection.Options.Validate(id);
        var journal = projection.Options.ReadJournal;
        if (journal is null && projection.Source.ReadsJournal)
        {
            journal = _system.TryGetExtension<PersistenceExtension>()?.ReadJournal
                ?? throw new InvalidOperationException($"Projection {id} reads the journal, but actor system '{_system.Name}' has no persistence: configure UsePersistence, or set ProjectionOptions.ReadJournal.");
        }

        lock (_lock)
        {
            if (_closed)
            {
                throw new InvalidOperationException($"Cannot start projection {id}: actor system '{_system.Name}' is terminating.");
            }

            if (_running.ContainsKey(id))
            {
                throw new InvalidOperationException($"Projection {id} runs already in actor system '{_system.Name}'.");
            }

            var runner = new ProjectionRunner(projection, projection.CreateDriver(_system.TimeProvider), journal, _system.TimeProvider, _system.LoggerFactory);
            var handle = new ProjectionHandle(runner, this);
            _running.Add(id, handle);
            runner.Start();
            return handle;
        }
    }

    /// <summary>The running projection with <paramref name="id"/>, or null.</summary>
    public ProjectionHandle? Find(ProjectionId id)
    {
        lock (_lock)
        {
            return _running.GetValueOrDefault(id);
        }
    }

    /// <summary>The running projection named <paramref name="name"/> with the source key <paramref name="key"/>, or null.</summary>
    public ProjectionHandle? Find(string name, string key) => Find(new ProjectionId(name, key));

    /// <summary>Stops every projection (after its batch in flight) and refuses new ones.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAllAsync();
    }

    internal void Remove(ProjectionHandle handle)
    {
        lock (_lock)
        {
            if (_running.TryGetValue(handle.Id, out var current) && ReferenceEquals(current, handle))
            {
                _running.Remove(handle.Id);
            }
        }
    }

    private Task StopAllAsync()
    {
        ProjectionHandle[] handles;
        lock (_lock)
        {
            _closed = true;
            handles = [.. _running.Values];
        }

        return Task.WhenAll(handles.Select(h => h.StopAsync()));
    }

    /// <summary>Starts stopping the projections when the system's own actors stop (and finishes before the extensions are disposed).</summary>
    private sealed class StopOnTermination(ProjectionRegistry registry) : Actor
    {
        protected override void Receive(object message) => Unhandled(message);

        protected override void PostStop() => _ = registry.StopAllAsync();
    }
}

/// <summary>Wires projections into an actor system.</summary>
public static class ProjectionActorSystemExtensions
{
    /// <summary>Enables projections in the system: start them with <c>system.Projections().Start(...)</c>.</summary>
    public static ActorSystemOptions UseProjections(this ActorSystemOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.AddExtension(system => new ProjectionRegistry(system));
    }

    /// <summary>The projections of <paramref name="system"/>.</summary>
    /// <exception cref="InvalidOperationException">The system was created without <c>UseProjections</c>.</exception>
    public static ProjectionRegistry Projections(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<ProjectionRegistry>() ?? throw new InvalidOperationException(
            $"Actor system '{system.Name}' has no projections: create it with ActorSystem.Create(\"{system.Name}\", o => o.UsePersistence(...).UseProjections()).");
    }
}
