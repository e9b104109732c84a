using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence.Sharding;

namespace Recall.Cluster.Sharding;

/// <summary>
/// Decides where the shards of one entity type live (a cluster singleton): answers regions asking
/// for a shard's home, allocating new shards with the strategy and writing each home to the
/// <see cref="IShardStore"/> before answering, so that a new coordinator continues from them.
/// Moves shards (rebalance, a leaving node) by handoff: every region forgets the home and buffers,
/// the old home stops the shard and confirms, and the shard is allocated again at once. A region
/// whose node is gone loses its shards at once (their leases expire by then).
/// </summary>
/// <remarks>
/// Its memory is the truth while it runs; the store is what the next coordinator starts from.
/// Store writes go out one after another in the order they were decided (a forgotten home cannot
/// overwrite a newer one), and a failed store call is logged and tried again later, never a
/// restart: regions register again every retry interval and ask again for what they buffer.
/// </remarks>
internal sealed partial class ShardCoordinator(string typeName, ShardingSettings settings, ClusterExtension cluster, IShardStore store, ShardingMetrics metrics) : Actor
{
    private readonly Dictionary<string, Address> _homes = new(StringComparer.Ordinal);
    private readonly Dictionary<Address, IActorRef> _regions = [];
    private readonly HashSet<IActorRef> _proxies = [];
    private readonly HashSet<Address> _leaving = [];
    private readonly Dictionary<string, List<IActorRef>> _waiting = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Move> _moving = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Address> _allocating = new(StringComparer.Ordinal); // home being written
    private readonly HashSet<string> _keepRunning = new(StringComparer.Ordinal); // with remembered entities: every shard known
    private Task _storeWrites = Task.CompletedTask;
    private bool _loaded;
    private long _startedAt;

    protected override void PreStart()
    {
        _startedAt = Context.System.TimeProvider.GetTimestamp();
        Self.Tell(Load.Instance, null);
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, settings.RebalanceInterval, settings.RebalanceInterval);
    }

    protected override void Receive(object message)
    {
        switch (message)
        {
            case Load when !_loaded:
                RunTask(LoadAsync);
                break;
            case Load:
                break;
            case RegisterRegion register:
                RegisterRegion(register.Region, register.Hosting);
                break;
            case GetShardHome get when Sender is not null:
                Wait(get.ShardId, Sender);
                Resolve(get.ShardId);
                break;
            case BeginHandOffAck ack when Sender is not null && _moving.TryGetValue(ack.ShardId, out var move):
                move.Acks.Remove(Sender);
                SendHandOffWhenAcknowledged(ack.ShardId, move);
                break;
            case ShardStopped stopped when _moving.Remove(stopped.ShardId, out var move):
                metrics.HandedOff(Context.System.TimeProvider.GetElapsedTime(move.Started));
                MovedOut(stopped.ShardId);
                break;
            case RegionLeaving leaving:
                Log.RegionLeaving(Context.Logger, typeName, leaving.Region.Path.Address);
                _leaving.Add(leaving.Region.Path.Address);
                MoveAwayFromLeaving();
                AcknowledgeLeft();
                break;
            case Terminated terminated:
                RegionGone(terminated.Actor);
                break;
            case Tick:
                OnTick();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private async Task LoadAsync()
    {
        try
        {
            var remembered = settings.RememberEntities ? await store.CountEntitiesAsync(typeName, CancellationToken.None) : [];
            var homes = await store.ReadHomesAsync(typeName, CancellationToken.None);
            foreach (var shard in remembered)
            {
                _keepRunning.Add(shard.ShardId);
            }

            foreach (var home in homes)
            {
                if (ActorPath.TryParse(home.Node, out var path))
                {
                    _homes[home.ShardId] = path.Address;
                    _keepRunning.Add(home.ShardId);
                }
            }
        }
        catch (Exception exception)
        {
            Log.StoreFailed(Context.Logger, exception, typeName, "reading the shard homes");
            Timers.StartSingleTimer(Load.Instance, Load.Instance, settings.RetryInterval);
            return;
        }

        _loaded = true;
        Log.Loaded(Context.Logger, typeName, Context.System.Address, _homes.Count);
        AnswerWaiting();
        StartRemembered();
    }

    private void RegisterRegion(IActorRef region, bool hosting)
    {
        var address = region.Path.Address;
        if (hosting)
        {
            if (_regions.TryGetValue(address, out var earlier) && !earlier.Equals(region))
            {
                RegionGone(earlier); // a restarted node at the same address: the earlier run is gone
            }

            _regions[address] = region;
        }
        else
        {
            _proxies.Add(region);
        }

        Context.Watch(region);
        region.Tell(new RegionRegistered(Self), Self);
        AnswerWaiting();
        StartRemembered();
    }

    private void Wait(string shardId, IActorRef requester)
    {
        if (!_waiting.TryGetValue(shardId, out var requesters))
        {
            _waiting[shardId] = requesters = [];
        }

        if (!requesters.Contains(requester))
        {
            requesters.Add(requester);
        }
    }

    private void AnswerWaiting()
    {
        foreach (var shardId in _waiting.Keys.ToList())
        {
            Resolve(shardId);
        }
    }

    /// <summary>Answers who waits for the shard's home when it can: its registered home, or a new one it allocates.</summary>
    private void Resolve(string shardId)
    {
        if (!_loaded || _moving.ContainsKey(shardId) || _allocating.ContainsKey(shardId) || !_waiting.TryGetValue(shardId, out var requesters))
        {
            return; // answered once loaded, moved or written
        }

        if (_homes.TryGetValue(shardId, out var address))
        {
            if (_regions.TryGetValue(address, out var region) && !_leaving.Contains(address))
            {
                _waiting.Remove(shardId);
                foreach (var requester in requesters)
                {
                    requester.Tell(new ShardHome(shardId, region), Self);
                }

                return;
            }

            if (_regions.ContainsKey(address) || MayStillRegister(address))
            {
                return; // moving away from a leaving node, or its region has not registered yet
            }

            Forget([shardId]); // its node is gone: allocate it again
            return;
        }

        Allocate(shardId, requesters[0].Path.Address);
    }

    /// <summary>Chooses a home for a shard that has none, writes it, then answers who waits (and, when entities are remembered, starts the shard there).</summary>
    private void Allocate(string shardId, Address requester)
    {
        var candidates = Current();
        if (candidates.Count == 0 || _allocating.ContainsKey(shardId) || _homes.ContainsKey(shardId))
        {
            return; // who waits is answered once a region registers, or once the home being written is
        }

        var chosen = settings.AllocationStrategy.Allocate(shardId, requester, candidates);
        if (!_regions.TryGetValue(chosen, out var home) || _leaving.Contains(chosen))
        {
            throw new InvalidOperationException($"The allocation strategy of '{typeName}' chose {chosen} for shard {shardId}, which is not one of the regions it was given.");
        }

        _allocating[shardId] = chosen;
        var written = WriteAsync(() => store.SetHomeAsync(typeName, shardId, chosen.ToString(), CancellationToken.None).AsTask());
        RunTask(async () =>
        {
            try
            {
                await written;
            }
            catch (Exception exception)
            {
                Log.StoreFailed(Context.Logger, exception, typeName, $"writing the home of shard {shardId}");
                return; // who waits asks again
            }
            finally
            {
                _allocating.Remove(shardId);
            }

            _homes[shardId] = chosen;
            _keepRunning.Add(shardId);
            Log.Allocated(Context.Logger, typeName, shardId, chosen);
            var requesters = _waiting.Remove(shardId, out var waiting) ? waiting : [];
            if (settings.RememberEntities && !requesters.Contains(home))
            {
                requesters.Add(home);
            }

            foreach (var region in requesters)
            {
                region.Tell(new ShardHome(shardId, home), Self);
            }

            AcknowledgeLeft();
        });
    }

    /// <summary>Runs a store write after every write decided before it (off the actor).</summary>
    private Task WriteAsync(Func<Task> write)
    {
        var next = _storeWrites.ContinueWith(_ => write(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        _storeWrites = next;
        return next;
    }

    /// <summary>
    /// With remembered entities every shard keeps running without a message: tell each shard's home
    /// region (which starts it if it does not run), and allocate those without a home.
    /// </summary>
    private void StartRemembered()
    {
        if (!settings.RememberEntities || !_loaded)
        {
            return;
        }

        List<string>? gone = null;
        foreach (var shardId in _keepRunning)
        {
            if (_moving.ContainsKey(shardId) || _allocating.ContainsKey(shardId))
            {
                continue;
            }

            if (!_homes.TryGetValue(shardId, out var address))
            {
                Allocate(shardId, Context.System.Address);
            }
            else if (_regions.TryGetValue(address, out var region) && !_leaving.Contains(address))
            {
                region.Tell(new ShardHome(shardId, region), Self);
            }
            else if (!_regions.ContainsKey(address) && !MayStillRegister(address))
            {
                // A home read from the store whose node is gone and whose region never registered
                // here (it left or died while no coordinator ran): no message may ever come for it.
                (gone ??= []).Add(shardId);
            }
        }

        if (gone is not null)
        {
            Forget(gone); // allocated again, and started, by the StartRemembered it ends with
        }
    }

    /// <summary>
    /// Whether the region at <paramref name="address"/> may yet register: its node is a live member
    /// and this coordinator is young (regions register within a retry interval of its start).
    /// </summary>
    private bool MayStillRegister(Address address) =>
        Context.System.TimeProvider.GetElapsedTime(_startedAt) < settings.HandOffTimeout
        && cluster.IsActiveMember(address);

    /// <summary>Every hosting region that may get shards, with the shards it has or is getting (those moving excluded).</summary>
    private Dictionary<Address, IReadOnlyList<string>> Current()
    {
        var current = _regions.Keys.Where(a => !_leaving.Contains(a)).ToDictionary(a => a, _ => new List<string>());
        foreach (var (shardId, address) in _homes.Concat(_allocating))
        {
            if (!_moving.ContainsKey(shardId) && current.TryGetValue(address, out var shards))
            {
                shards.Add(shardId);
            }
        }

        return current.ToDictionary(c => c.Key, c => (IReadOnlyList<string>)c.Value);
    }

    private void OnTick()
    {
        if (!_loaded)
        {
            return;
        }

        var clock = Context.System.TimeProvider;
        foreach (var (shardId, move) in _moving.ToList())
        {
            var elapsed = clock.GetElapsedTime(move.Started);
            if (elapsed > settings.HandOffTimeout * 2)
            {
                // Never confirmed: give up the move; the shard keeps its home (its lease decides who runs it).
                Log.HandOffGaveUp(Context.Logger, typeName, shardId, move.From.Path.Address);
                _moving.Remove(shardId);
            }
            else if (elapsed > settings.HandOffTimeout && !move.HandOffSent)
            {
                move.Acks.Clear();
                SendHandOffWhenAcknowledged(shardId, move);
            }
        }

        MoveAwayFromLeaving();
        if (_moving.Count == 0 && _allocating.Count == 0)
        {
            foreach (var shardId in settings.AllocationStrategy.Rebalance(Current(), [.. _moving.Keys]))
            {
                StartMove(shardId);
            }
        }

        AnswerWaiting();
        StartRemembered();
    }

    /// <summary>Tells each leaving region whose shards have all moved (homes written elsewhere) that it may go.</summary>
    private void AcknowledgeLeft()
    {
        foreach (var address in _leaving)
        {
            if (_regions.TryGetValue(address, out var region)
                && !_homes.ContainsValue(address)
                && !_moving.Values.Any(m => m.From.Equals(region)))
            {
                region.Tell(new RegionLeavingAck(), Self);
            }
        }
    }

    private void MoveAwayFromLeaving()
    {
        foreach (var (shardId, address) in _homes.ToList())
        {
            if (_leaving.Contains(address) && !_moving.ContainsKey(shardId))
            {
                StartMove(shardId);
            }
        }
    }

    private void StartMove(string shardId)
    {
        if (_moving.ContainsKey(shardId) || !_homes.TryGetValue(shardId, out var address) || !_regions.TryGetValue(address, out var from))
        {
            return;
        }

        Log.Moving(Context.Logger, typeName, shardId, address);
        var move = new Move(from, [.. _regions.Values, .. _proxies], Context.System.TimeProvider.GetTimestamp());
        _moving[shardId] = move;
        foreach (var region in move.Acks)
        {
            region.Tell(new BeginHandOff(shardId), Self);
        }

        SendHandOffWhenAcknowledged(shardId, move);
    }

    private void SendHandOffWhenAcknowledged(string shardId, Move move)
    {
        if (move.Acks.Count == 0 && !move.HandOffSent)
        {
            move.HandOffSent = true;
            move.From.Tell(new HandOff(shardId), Self);
        }
    }

    private void RegionGone(IActorRef region)
    {
        Context.Unwatch(region);
        _proxies.Remove(region);
        foreach (var (shardId, move) in _moving.ToList())
        {
            if (move.From.Equals(region))
            {
                _moving.Remove(shardId); // its node is gone, and the shard with it
            }
            else if (move.Acks.Remove(region))
            {
                SendHandOffWhenAcknowledged(shardId, move);
            }
        }

        var address = region.Path.Address;
        if (!_regions.TryGetValue(address, out var registered) || !registered.Equals(region))
        {
            return;
        }

        _regions.Remove(address);
        _leaving.Remove(address);
        var lost = _homes.Where(h => h.Value.Equals(address)).Select(h => h.Key).ToList();
        Log.RegionGone(Context.Logger, typeName, address, lost.Count);
        Forget(lost);
    }

    /// <summary>
    /// A shard's old home let it go: give it a new home at once (so that the strategy counts it where
    /// it goes, and remembered entities start there), or forget its home when no region may take it.
    /// </summary>
    private void MovedOut(string shardId)
    {
        _homes.Remove(shardId);
        if (Current().Count == 0)
        {
            Forget([shardId]);
            return;
        }

        Allocate(shardId, Context.System.Address);
    }

    /// <summary>Forgets the homes of <paramref name="shardIds"/> (here at once, in the store in order), then answers who waits: they are allocated again.</summary>
    private void Forget(List<string> shardIds)
    {
        foreach (var shardId in shardIds)
        {
            _homes.Remove(shardId);
        }

        if (shardIds.Count > 0)
        {
            var logger = Context.Logger;
            _ = WriteAsync(() => store.RemoveHomesAsync(typeName, shardIds, CancellationToken.None).AsTask())
                .ContinueWith(t => Log.StoreFailed(logger, t.Exception!, typeName, "forgetting shard homes"), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        AnswerWaiting();
        StartRemembered();
        AcknowledgeLeft();
    }

    private sealed class Move(IActorRef from, HashSet<IActorRef> acks, long started)
    {
        public IActorRef From { get; } = from;

        public HashSet<IActorRef> Acks { get; } = acks;

        public long Started { get; } = started;

        public bool HandOffSent { get; set; }
    }

    private sealed class Load
    {
        public static readonly Load Instance = new();
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Sharding {TypeName}: coordinator on {Node} continues from {Homes} shard homes")]
        public static partial void Loaded(ILogger logger, string typeName, Address node, int homes);

        [LoggerMessage(2, LogLevel.Debug, "Sharding {TypeName}: shard {ShardId} lives on {Node}")]
        public static partial void Allocated(ILogger logger, string typeName, string shardId, Address node);

        [LoggerMessage(3, LogLevel.Information, "Sharding {TypeName}: moving shard {ShardId} away from {Node}")]
        public static partial void Moving(ILogger logger, string typeName, string shardId, Address node);

        [LoggerMessage(4, LogLevel.Warning, "Sharding {TypeName}: the region on {Node} is gone; its {Shards} shards are allocated again")]
        public static partial void RegionGone(ILogger logger, string typeName, Address node, int shards);

        [LoggerMessage(5, LogLevel.Information, "Sharding {TypeName}: the region on {Node} leaves; its shards move")]
        public static partial void RegionLeaving(ILogger logger, string typeName, Address node);

        [LoggerMessage(6, LogLevel.Warning, "Sharding {TypeName}: {Node} did not confirm the handoff of shard {ShardId} in time; the shard stays there")]
        public static partial void HandOffGaveUp(ILogger logger, string typeName, string shardId, Address node);

        [LoggerMessage(7, LogLevel.Warning, "Sharding {TypeName}: the shard store failed {Operation}; trying again")]
        public static partial void StoreFailed(ILogger logger, Exception exception, string typeName, string operation);
    }
}
