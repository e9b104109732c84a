using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence.Sharding;

namespace Recall.Cluster.Sharding;

/// <summary>
/// One entity type's front door on one node (<c>/system/sharding-TYPE</c>): reads each message's
/// shard, delivers it to the shard's home (a local <see cref="Shard"/> child, or the region of
/// another node), and while the home is unknown or moving keeps it in a bounded buffer per shard and
/// asks the coordinator. A proxy region (<paramref name="entityProps"/> null) hosts nothing.
/// </summary>
internal sealed partial class ShardRegion(
    string typeName,
    Func<string, Props>? entityProps,
    IMessageExtractor extractor,
    ShardingSettings settings,
    ClusterExtension cluster,
    IShardStore? store,
    ShardingMetrics metrics,
    IActorRef coordinatorProxy) : Actor
{
    private readonly Dictionary<string, IActorRef> _homes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Queue<(object Message, IActorRef? Sender)>> _buffers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IActorRef> _shards = new(StringComparer.Ordinal);
    private readonly Dictionary<IActorRef, string> _shardIds = [];
    private readonly Dictionary<string, IActorRef?> _handingOff = new(StringComparer.Ordinal); // shard → who asked (null: this region itself)
    private readonly HashSet<IActorRef> _watchedRegions = [];
    private IActorRef? _coordinator;
    private IActorRef? _leaveRequester;
    private bool _leaveAcknowledged;
    private bool _leaveAnswered;

    private bool Hosting => entityProps is not null;

    private IActorRef Coordinator => _coordinator ?? coordinatorProxy;

    /// <summary>A shard that fails stops; the next message for it starts it again (under its lease).</summary>
    protected override SupervisorStrategy SupervisorStrategy => SupervisorStrategy.Stopping;

    protected override void PreStart()
    {
        Register();
        Timers.StartPeriodicTimer(Retry.Instance, Retry.Instance, settings.RetryInterval, settings.RetryInterval);
    }

    protected override void PostStop()
    {
        var dropped = 0;
        foreach (var buffer in _buffers.Values)
        {
            while (buffer.TryDequeue(out var item))
            {
                dropped++;
                Context.System.DeadLetters.Tell(new DeadLetter(item.Message, item.Sender, Self), item.Sender);
            }
        }

        metrics.Buffered(-dropped);
        metrics.Dropped(dropped);
        metrics.Dispose();
    }

    protected override void Receive(object message)
    {
        switch (message)
        {
            case RegionRegistered registered:
                if (!registered.Coordinator.Equals(_coordinator))
                {
                    if (_coordinator is not null)
                    {
                        Context.Unwatch(_coordinator);
                    }

                    _coordinator = registered.Coordinator;
                    Context.Watch(_coordinator);
                    Log.Registered(Context.Logger, typeName, Context.System.Address, _coordinator.Path.Address);
                }

                AskForBufferedHomes();
                if (_leaveRequester is not null)
                {
                    _coordinator.Tell(new RegionLeaving(Self), Self);
                }

                break;
            case Retry:
                Register(); // again and again: a coordinator that lost its memory learns of this region
                AskForBufferedHomes();
                StopShardsIfNoOneCanMoveThem();
                break;
            case ShardHome home:
                LearnHome(home);
                break;
            case BeginHandOff begin:
                _homes.Remove(begin.ShardId);
                Sender?.Tell(new BeginHandOffAck(begin.ShardId), Self);
                break;
            case HandOff handOff:
                _homes.Remove(handOff.ShardId);
                if (_shards.TryGetValue(handOff.ShardId, out var shard))
                {
                    _handingOff[handOff.ShardId] = Sender ?? Coordinator;
                    shard.Tell(HandOffShard.Instance, Self);
                }
                else if (!_handingOff.ContainsKey(handOff.ShardId))
                {
                    Sender?.Tell(new ShardStopped(handOff.ShardId), Self);
                }

                break;
            case LeaveRegion:
                _leaveRequester = Sender ?? Context.System.DeadLetters;
                Coordinator.Tell(new RegionLeaving(Self), Self);
                ReplyIfLeft();
                break;
            case RegionLeavingAck:
                _leaveAcknowledged = true;
                ReplyIfLeft();
                break;
            case Terminated terminated when terminated.Actor.Equals(_coordinator):
                _coordinator = null;
                Register();
                break;
            case Terminated terminated when _shardIds.Remove(terminated.Actor, out var shardId):
                ShardGone(shardId);
                break;
            case Terminated terminated:
                RegionGone(terminated.Actor);
                break;
            case GetStatistics:
                Sender?.Tell(metrics.Snapshot(), Self);
                break;
            case GetShardEntities:
                Sender?.Tell(new ShardEntities(metrics.EntitiesPerShard()), Self);
                break;
            default:
                Deliver(message, Sender);
                break;
        }
    }

    private void Register() => Coordinator.Tell(new RegisterRegion(Self, Hosting && _leaveRequester is null), Self);

    private void AskForBufferedHomes()
    {
        foreach (var shardId in _buffers.Keys)
        {
            Coordinator.Tell(new GetShardHome(shardId), Self);
        }
    }

    private void Deliver(object message, IActorRef? sender)
    {
        string? entityId;
        string shardId;
        try
        {
            entityId = extractor.EntityId(message);
            shardId = entityId is null ? "" : extractor.ShardId(message);
        }
        catch (Exception exception)
        {
            Log.ExtractorFailed(Context.Logger, exception, typeName, message.GetType().Name);
            entityId = null;
            shardId = "";
        }

        if (entityId is null || shardId.Length == 0)
        {
            Log.NotForThisType(Context.Logger, typeName, message.GetType().Name);
            Context.System.DeadLetters.Tell(new DeadLetter(message, sender, Self), sender);
            return;
        }

        if (_homes.TryGetValue(shardId, out var home) && !WaitsForOldSelf(shardId))
        {
            if (ReferenceEquals(home, Self))
            {
                LocalShard(shardId).Tell(message, sender);
            }
            else
            {
                home.Tell(message, sender);
            }

            return;
        }

        if (!_buffers.TryGetValue(shardId, out var buffer))
        {
            _buffers[shardId] = buffer = new Queue<(object Message, IActorRef? Sender)>();
        }

        if (buffer.Count >= settings.BufferSize)
        {
            metrics.Dropped(1);
            Context.System.DeadLetters.Tell(new DeadLetter(message, sender, Self), sender);
            return;
        }

        buffer.Enqueue((message, sender));
        metrics.Buffered(1);
        if (buffer.Count == 1)
        {
            Coordinator.Tell(new GetShardHome(shardId), Self);
        }
    }

    private void LearnHome(ShardHome home)
    {
        if (home.Region.Path.Equals(Self.Path))
        {
            if (!Hosting)
            {
                return; // a coordinator never places a shard on a proxy; an old answer is ignored
            }

            _homes[home.ShardId] = Self;
            if (settings.RememberEntities && !_handingOff.ContainsKey(home.ShardId))
            {
                LocalShard(home.ShardId); // its remembered entities run without a message
            }
        }
        else if (!cluster.Members.Any(m => m.Address.Equals(home.Region.Path.Address) && m.Status < Recall.Persistence.Membership.MemberStatus.Removed))
        {
            return; // an answer given before the coordinator learned that node is gone: ask again later
        }
        else
        {
            _homes[home.ShardId] = home.Region;
            if (_watchedRegions.Add(home.Region))
            {
                Context.Watch(home.Region);
            }
        }

        Flush(home.ShardId);
    }

    /// <summary>Delivers what waits for a shard whose home is known now (it waits on while its old self here stops).</summary>
    private void Flush(string shardId)
    {
        if (WaitsForOldSelf(shardId) || !_buffers.Remove(shardId, out var buffer))
        {
            return;
        }

        metrics.Buffered(-buffer.Count);
        while (buffer.TryDequeue(out var item))
        {
            Deliver(item.Message, item.Sender);
        }

        ReplyIfLeft();
    }

    /// <summary>The shard's home is here again while its old self here still stops: its messages wait.</summary>
    private bool WaitsForOldSelf(string shardId) =>
        _homes.TryGetValue(shardId, out var home) && ReferenceEquals(home, Self) && _handingOff.ContainsKey(shardId);

    private IActorRef LocalShard(string shardId)
    {
        if (!_shards.TryGetValue(shardId, out var shard))
        {
            shard = Context.Spawn(Props.Create(() => new Shard(typeName, shardId, entityProps!, extractor, settings, cluster, store, metrics)), Shard.NameOf(shardId));
            Context.Watch(shard);
            _shards[shardId] = shard;
            _shardIds[shard] = shardId;
        }

        return shard;
    }

    private void ShardGone(string shardId)
    {
        _shards.Remove(shardId);
        if (_handingOff.Remove(shardId, out var requester))
        {
            requester?.Tell(new ShardStopped(shardId), Self);
            if (_homes.TryGetValue(shardId, out var next) && ReferenceEquals(next, Self))
            {
                // It came back here while the old one stopped: start it again for what waits.
                Flush(shardId);
                if (settings.RememberEntities)
                {
                    LocalShard(shardId);
                }
            }
        }
        else if (_homes.TryGetValue(shardId, out var home) && ReferenceEquals(home, Self))
        {
            _homes.Remove(shardId); // it failed or lost its lease: ask again on the next message
        }

        ReplyIfLeft();
    }

    private void RegionGone(IActorRef region)
    {
        _watchedRegions.Remove(region);
        foreach (var shardId in _homes.Where(h => h.Value.Equals(region)).Select(h => h.Key).ToList())
        {
            _homes.Remove(shardId);
        }
    }

    /// <summary>
    /// Leaving while every other node that could run the coordinator is leaving or gone (the whole
    /// cluster stops): no coordinator can move the shards here, so they stop here, their entities
    /// after their writes, and their leases are released; the next coordinator finds their homes on
    /// a node that is no longer a member and allocates them again.
    /// </summary>
    private void StopShardsIfNoOneCanMoveThem()
    {
        if (_leaveRequester is null || _leaveAcknowledged
            || cluster.Members.Any(m => !m.Address.Equals(Context.System.Address) && m.Status == Recall.Persistence.Membership.MemberStatus.Up && (settings.Role is null || m.HasRole(settings.Role))))
        {
            return;
        }

        Log.StoppingWithoutCoordinator(Context.Logger, typeName, Context.System.Address, _shards.Count);
        _leaveAcknowledged = true;
        foreach (var (shardId, shard) in _shards)
        {
            _homes.Remove(shardId);
            if (_handingOff.TryAdd(shardId, null))
            {
                shard.Tell(HandOffShard.Instance, Self);
            }
        }

        ReplyIfLeft();
    }

    private void ReplyIfLeft()
    {
        // Left once no shard runs here and every message kept here went on to its new home.
        if (_leaveRequester is not null && !_leaveAnswered && _leaveAcknowledged && _shards.Count == 0 && _buffers.Count == 0)
        {
            _leaveRequester.Tell(RegionHandedOff.Instance, Self);
            _leaveAnswered = true;
        }
    }

    private sealed class Retry
    {
        public static readonly Retry Instance = new();
    }

    private static partial class Log
    {
        [LoggerMessage(4, LogLevel.Information, "Sharding {TypeName}: {Node} leaves and no other member could move its shards; its {Shards} shards stop here")]
        public static partial void StoppingWithoutCoordinator(ILogger logger, string typeName, Address node, int shards);

        [LoggerMessage(1, LogLevel.Debug, "Sharding {TypeName}: the region on {Node} registered with the coordinator on {Coordinator}")]
        public static partial void Registered(ILogger logger, string typeName, Address node, Address coordinator);

        [LoggerMessage(2, LogLevel.Warning, "Sharding {TypeName}: {MessageType} names no entity for this type's extractor; it became a dead letter")]
        public static partial void NotForThisType(ILogger logger, string typeName, string messageType);

        [LoggerMessage(3, LogLevel.Warning, "Sharding {TypeName}: the extractor failed on {MessageType}; it became a dead letter")]
        public static partial void ExtractorFailed(ILogger logger, Exception exception, string typeName, string messageType);
    }
}

/// <summary>To a region, from its node: this node leaves, hand every shard over; answered with <see cref="RegionHandedOff"/>.</summary>
internal sealed class LeaveRegion
{
    public static readonly LeaveRegion Instance = new();
}

/// <summary>The coordinator took note that a region leaves.</summary>
[Recall.Persistence.Serialization.EventType("recall.sharding.region-leaving-ack.v1")]
internal sealed record RegionLeavingAck;

/// <summary>To a region, from its node: answer with its <see cref="ShardingStatistics"/>.</summary>
internal sealed class GetStatistics
{
    public static readonly GetStatistics Instance = new();
}
