using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Leases;
using Recall.Persistence.Sharding;

namespace Recall.Cluster.Sharding;

/// <summary>
/// One shard on its home node: runs its entities only while it holds the shard's lease
/// (<c>shard:TYPE:ID</c>), whose fencing token its entities write with (a stale home cannot append).
/// Until the lease is held (the old home may not have let go yet) messages wait in a bounded buffer.
/// Passivates idle entities and the least recently used beyond the limit; a message to a stopping
/// entity waits and starts it again. On handoff its entities finish their writes and stop, then the
/// lease is released and the shard stops (its region then confirms to the coordinator).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The lease is disposed in PostStop, the end of an actor's life.")]
internal sealed partial class Shard : Actor
{
    private readonly string _typeName;
    private readonly string _shardId;
    private readonly Func<string, Props> _entityProps;
    private readonly IMessageExtractor _extractor;
    private readonly ShardingSettings _settings;
    private readonly ClusterExtension _cluster;
    private readonly IShardStore? _store;
    private readonly ShardingMetrics _metrics;
    private readonly Lease _lease;
    private readonly Queue<(object Message, IActorRef? Sender)> _pending = new();
    private readonly Dictionary<string, Entity> _entities = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _ids = [];
    private readonly LinkedList<string> _recent = new(); // least recently used first
    private readonly HashSet<string> _remembered = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<(object Message, IActorRef? Sender)>> _adding = new(StringComparer.Ordinal); // being remembered
    private CancellationTokenRegistration _lost;
    private bool _ready;
    private bool _handingOff;
    private bool _releasing;
    private long _acquireStarted;
    private bool _toldWaiting;

    public Shard(string typeName, string shardId, Func<string, Props> entityProps, IMessageExtractor extractor, ShardingSettings settings, ClusterExtension cluster, IShardStore? store, ShardingMetrics metrics)
    {
        _typeName = typeName;
        _shardId = shardId;
        _entityProps = entityProps;
        _extractor = extractor;
        _settings = settings;
        _cluster = cluster;
        _store = store;
        _metrics = metrics;
        // A holder of its own per shard instance: a shard started again here gets a new fencing token,
        // and the release of an earlier instance cannot end the holding of a later one.
        _lease = new Lease(cluster.Leases, LeaseName(typeName, shardId), $"{cluster.HolderId}/{Guid.NewGuid():N}", cluster.Options.Lease, cluster.System.TimeProvider, cluster.System.LoggerFactory.CreateLogger("Recall.Cluster.Sharding"));
    }

    /// <summary>The lease a shard runs under.</summary>
    internal static string LeaseName(string typeName, string shardId) => $"shard:{typeName}:{shardId}";

    /// <summary>An actor name for an id: ids may hold any character.</summary>
    internal static string NameOf(string id) => Uri.EscapeDataString(id);

    protected override void PreStart()
    {
        _acquireStarted = Context.System.TimeProvider.GetTimestamp();
        Self.Tell(TryAcquire.Instance, null);
        if (_settings.PassivateIdleAfter is { } idle)
        {
            Timers.StartPeriodicTimer(CheckIdle.Instance, CheckIdle.Instance, idle / 2, idle / 2);
        }
    }

    protected override void PostStop()
    {
        _lost.Dispose();
        Context.System.TryGetExtension<PersistenceExtension>()?.ClearFencingToken(Self.Path);
        _metrics.ShardStopped(_shardId, _ready, _entities.Count);
        var dropped = 0;
        foreach (var (message, sender) in _pending.Concat(_entities.Values.SelectMany(e => e.Waiting)).Concat(_adding.Values.SelectMany(q => q)))
        {
            dropped++;
            Context.System.DeadLetters.Tell(new DeadLetter(message, sender, Self), sender);
        }

        _metrics.Buffered(-_pending.Count);
        _metrics.Dropped(dropped);

        // Stopped without a handoff (its node leaves or the system terminates): let go at once.
        _ = _lease.DisposeAsync().AsTask().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }

    protected override void Receive(object message)
    {
        switch (message)
        {
            case TryAcquire when _handingOff:
                Finish();
                break;
            case TryAcquire:
                RunTask(AcquireAsync);
                break;
            case HandOffShard:
                HandOff();
                break;
            case HandOffTimedOut when _handingOff:
                foreach (var entity in _entities.Values)
                {
                    Context.Stop(entity.Ref);
                }

                break;
            case LeaseLost when _ready && !_releasing:
                Log.LeaseLost(Context.Logger, _typeName, _shardId, Context.System.Address);
                foreach (var entity in _entities.Values)
                {
                    Context.Stop(entity.Ref);
                }

                Context.Stop(Self);
                break;
            case LeaseLost:
                break;
            case Terminated terminated when _ids.Remove(terminated.Actor, out var id):
                EntityStopped(id);
                break;
            case Terminated:
                break; // an entity of an earlier life
            case ForceStop force when _entities.TryGetValue(force.EntityId, out var stuck) && stuck.Stopping && stuck.Ref.Equals(force.Entity):
                Context.Stop(stuck.Ref); // it did not stop when asked to
                break;
            case ForceStop:
                break;
            case Passivate passivate when Sender is { } entityRef && _ids.TryGetValue(entityRef, out var id):
                StartPassivating(_entities[id], passivate.StopMessage);
                if (_settings.RememberEntities && _store is not null && _remembered.Remove(id))
                {
                    RunTask(() => _store.RemoveEntityAsync(_typeName, _shardId, id, CancellationToken.None).AsTask());
                }

                break;
            case CheckIdle:
                PassivateIdle();
                break;
            case RestartRemembered restart when _ready && !_handingOff && _remembered.Contains(restart.EntityId) && !_entities.ContainsKey(restart.EntityId):
                Launch(restart.EntityId);
                break;
            case RestartRemembered:
                break;
            default:
                Deliver(message, Sender);
                break;
        }
    }

    private async Task AcquireAsync()
    {
        bool acquired;
        try
        {
            acquired = _cluster.IsUp && await _lease.TryAcquireAsync();
        }
        catch (Exception exception)
        {
            Log.AcquireFailed(Context.Logger, exception, _typeName, _shardId);
            acquired = false;
        }

        if (!acquired || _lease.FencingToken is not { } token)
        {
            var waited = Context.System.TimeProvider.GetElapsedTime(_acquireStarted);
            if (!_toldWaiting && waited > _cluster.Options.Lease.Duration * 3)
            {
                _toldWaiting = true;
                var holder = await ReadHolderAsync();
                Log.LeaseHeldElsewhere(Context.Logger, _typeName, _shardId, Context.System.Address, waited.TotalSeconds, holder ?? "nobody");
            }

            Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, _settings.RetryInterval);
            return;
        }

        if (_handingOff)
        {
            Finish();
            return;
        }

        // Entities are children: they write with the shard's token.
        Context.System.TryGetExtension<PersistenceExtension>()?.SetFencingToken(Self.Path, token);
        var self = Self;
        _lost.Dispose();
        _lost = _lease.LostToken.Register(() => self.Tell(new LeaseLost(token), null));
        if (_settings.RememberEntities && _store is not null)
        {
            try
            {
                foreach (var id in await _store.ReadEntitiesAsync(_typeName, _shardId, CancellationToken.None))
                {
                    _remembered.Add(id);
                }
            }
            catch (Exception exception)
            {
                Log.AcquireFailed(Context.Logger, exception, _typeName, _shardId);
                Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, _settings.RetryInterval); // the lease stays held meanwhile
                return;
            }
        }

        _ready = true;
        _metrics.ShardStarted(_shardId, Context.System.TimeProvider.GetElapsedTime(_acquireStarted));
        Log.Started(Context.Logger, _typeName, _shardId, Context.System.Address, token, _remembered.Count);
        foreach (var id in _remembered)
        {
            Launch(id);
        }

        _metrics.Buffered(-_pending.Count);
        while (_pending.TryDequeue(out var item))
        {
            Deliver(item.Message, item.Sender);
        }
    }

    private async Task<string?> ReadHolderAsync()
    {
        try
        {
            return (await _cluster.Leases.ReadAsync(_lease.Name, CancellationToken.None))?.Holder;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private void Deliver(object message, IActorRef? sender)
    {
        if (!_ready || _handingOff)
        {
            if (_handingOff)
            {
                Context.Parent.Tell(message, sender); // the region forgot this shard's home: it follows the shard
            }
            else if (_pending.Count < _settings.BufferSize)
            {
                _pending.Enqueue((message, sender));
                _metrics.Buffered(1);
            }
            else
            {
                DeadLetter(message, sender);
            }

            return;
        }

        if (_extractor.EntityId(message) is not { } id)
        {
            DeadLetter(message, sender);
            return;
        }

        if (_adding.TryGetValue(id, out var adding))
        {
            Enqueue(adding, message, sender); // after the messages that wait for it to be remembered
            return;
        }

        if (_entities.TryGetValue(id, out var entity))
        {
            if (entity.Stopping)
            {
                Enqueue(entity.Waiting, message, sender);
                return;
            }

            _recent.Remove(entity.Recent);
            _recent.AddLast(entity.Recent);
            entity.LastUsed = Context.System.TimeProvider.GetTimestamp();
            Tell(entity, message, sender);
            return;
        }

        if (_settings.RememberEntities && _store is not null && !_remembered.Contains(id))
        {
            Remember(id, message, sender);
            return;
        }

        Tell(Launch(id), message, sender);
    }

    /// <summary>Gives the entity what the message carries; a <see cref="StartEntity"/> only started it.</summary>
    private void Tell(Entity entity, object message, IActorRef? sender)
    {
        var payload = _extractor.Unwrap(message);
        if (payload is not StartEntity)
        {
            entity.Ref.Tell(payload, sender);
        }
    }

    /// <summary>Writes a new entity's id before it starts; messages for it wait in order meanwhile.</summary>
    private void Remember(string id, object message, IActorRef? sender)
    {
        var waiting = new Queue<(object Message, IActorRef? Sender)>();
        waiting.Enqueue((message, sender));
        _adding[id] = waiting;
        RunTask(async () =>
        {
            try
            {
                await _store!.AddEntityAsync(_typeName, _shardId, id, CancellationToken.None);
                _remembered.Add(id);
            }
            catch (Exception exception)
            {
                Log.RememberFailed(Context.Logger, exception, _typeName, _shardId, id); // it runs, not remembered
            }

            _adding.Remove(id);
            if (!_ready || _handingOff)
            {
                foreach (var (m, s) in waiting)
                {
                    Deliver(m, s);
                }

                return;
            }

            var entity = Launch(id);
            foreach (var (m, s) in waiting)
            {
                Tell(entity, m, s);
            }
        });
    }

    private void Enqueue(Queue<(object Message, IActorRef? Sender)> queue, object message, IActorRef? sender)
    {
        if (queue.Count < _settings.BufferSize)
        {
            queue.Enqueue((message, sender));
        }
        else
        {
            DeadLetter(message, sender);
        }
    }

    private void DeadLetter(object message, IActorRef? sender)
    {
        _metrics.Dropped(1);
        Context.System.DeadLetters.Tell(new DeadLetter(message, sender, Self), sender);
    }

    private Entity Launch(string id)
    {
        if (_settings.MaxActiveEntitiesPerShard is { } max)
        {
            var active = _entities.Count(e => !e.Value.Stopping && !_remembered.Contains(e.Key));
            for (var node = _recent.First; node is not null && active >= max; node = node.Next)
            {
                var candidate = _entities[node.Value];
                if (!candidate.Stopping && !_remembered.Contains(node.Value))
                {
                    StartPassivating(candidate, null);
                    active--;
                }
            }
        }

        var actor = Context.Spawn(_entityProps(id), NameOf(id));
        Context.Watch(actor);
        var entity = new Entity(actor, _recent.AddLast(id), Context.System.TimeProvider.GetTimestamp());
        _entities[id] = entity;
        _ids[actor] = id;
        _metrics.EntityStarted(_shardId);
        return entity;
    }

    private void StartPassivating(Entity entity, object? stopMessage)
    {
        if (entity.Stopping)
        {
            return;
        }

        entity.Stopping = true;
        entity.Ref.Tell(stopMessage ?? _settings.StopMessage, Self);
        var id = _ids[entity.Ref];
        Timers.StartSingleTimer(("force-stop", id), new ForceStop(id, entity.Ref), _settings.HandOffTimeout);
    }

    private void PassivateIdle()
    {
        if (_settings.PassivateIdleAfter is not { } idle || _handingOff)
        {
            return;
        }

        var clock = Context.System.TimeProvider;
        foreach (var (id, entity) in _entities)
        {
            if (!entity.Stopping && !_remembered.Contains(id) && clock.GetElapsedTime(entity.LastUsed) >= idle)
            {
                StartPassivating(entity, null);
            }
        }
    }

    private void EntityStopped(string id)
    {
        var entity = _entities[id];
        _entities.Remove(id);
        _recent.Remove(entity.Recent);
        _metrics.EntityStopped(_shardId);
        if (_handingOff)
        {
            foreach (var (message, sender) in entity.Waiting)
            {
                Context.Parent.Tell(message, sender);
            }

            if (_entities.Count == 0)
            {
                Finish();
            }

            return;
        }

        if (entity.Waiting.Count > 0)
        {
            foreach (var (message, sender) in entity.Waiting)
            {
                Deliver(message, sender);
            }
        }
        else if (!entity.Stopping && _remembered.Contains(id))
        {
            // A remembered entity stopped on its own: it must run, so it starts again after a pause.
            Timers.StartSingleTimer(new RestartRemembered(id), new RestartRemembered(id), _settings.RetryInterval);
        }
    }

    private void HandOff()
    {
        if (_handingOff)
        {
            return;
        }

        _handingOff = true;
        _metrics.Buffered(-_pending.Count);
        while (_pending.TryDequeue(out var item))
        {
            Context.Parent.Tell(item.Message, item.Sender);
        }

        if (_entities.Count == 0)
        {
            Finish();
            return;
        }

        foreach (var entity in _entities.Values)
        {
            StartPassivating(entity, null);
        }

        Timers.StartSingleTimer(HandOffTimedOut.Instance, HandOffTimedOut.Instance, _settings.HandOffTimeout);
    }

    /// <summary>Every entity stopped: release the lease (the next home takes it at once), then stop.</summary>
    private void Finish()
    {
        _releasing = true;
        _lost.Dispose();
        RunTask(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(_settings.HandOffTimeout);
                await _lease.ReleaseAsync(timeout.Token);
            }
            catch (Exception exception)
            {
                Log.AcquireFailed(Context.Logger, exception, _typeName, _shardId); // it expires by itself
            }

            Context.Stop(Self);
        });
    }

    private sealed class Entity(IActorRef actor, LinkedListNode<string> recent, long lastUsed)
    {
        public IActorRef Ref { get; } = actor;

        public LinkedListNode<string> Recent { get; } = recent;

        public long LastUsed { get; set; } = lastUsed;

        public bool Stopping { get; set; }

        public Queue<(object Message, IActorRef? Sender)> Waiting { get; } = new();
    }

    private sealed class TryAcquire
    {
        public static readonly TryAcquire Instance = new();
    }

    private sealed class CheckIdle
    {
        public static readonly CheckIdle Instance = new();
    }

    private sealed class HandOffTimedOut
    {
        public static readonly HandOffTimedOut Instance = new();
    }

    private sealed record LeaseLost(long Token);

    private sealed record RestartRemembered(string EntityId);

    private sealed record ForceStop(string EntityId, IActorRef Entity);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Shard {TypeName}/{ShardId}: started on {Node} with fencing token {Token}, {Remembered} remembered entities")]
        public static partial void Started(ILogger logger, string typeName, string shardId, Address node, long token, int remembered);

        [LoggerMessage(2, LogLevel.Warning, "Shard {TypeName}/{ShardId}: its lease was lost on {Node}; its entities stop at once")]
        public static partial void LeaseLost(ILogger logger, string typeName, string shardId, Address node);

        [LoggerMessage(3, LogLevel.Warning, "Shard {TypeName}/{ShardId}: the lease or shard store could not be asked; trying again")]
        public static partial void AcquireFailed(ILogger logger, Exception exception, string typeName, string shardId);

        [LoggerMessage(5, LogLevel.Warning, "Shard {TypeName}/{ShardId}: {Node} has waited {Seconds:0} s for the shard's lease, held by {Holder}; messages for it wait (or are dropped beyond the buffer)")]
        public static partial void LeaseHeldElsewhere(ILogger logger, string typeName, string shardId, Address node, double seconds, string holder);

        [LoggerMessage(4, LogLevel.Warning, "Shard {TypeName}/{ShardId}: entity {EntityId} could not be remembered; it runs, but will not start again by itself")]
        public static partial void RememberFailed(ILogger logger, Exception exception, string typeName, string shardId, string entityId);
    }
}
