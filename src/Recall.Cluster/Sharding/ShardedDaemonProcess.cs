using System.Globalization;
using Recall.Actors;
using Recall.Projections;

namespace Recall.Cluster.Sharding;

/// <summary>
/// N named workers kept running across the cluster: worker <c>i</c> (0 to N − 1) is the only
/// entity of shard <c>i</c> of the sharded type <c>daemon-NAME</c>, so each runs on one node at a
/// time, under its shard's lease, and moves on rebalance, leave and failure like any shard. Every
/// node that starts the process asks every worker to run (<see cref="StartEntity"/>) every
/// <see cref="ShardingSettings.RetryInterval"/>, so a worker that stopped, or whose node died,
/// runs again soon after.
/// </summary>
public static class ShardedDaemonProcess
{
    /// <summary>
    /// Starts the daemon process <paramref name="name"/> on this node: <paramref name="count"/>
    /// workers made by <paramref name="worker"/>(index). Call it on every node that may run workers
    /// (nodes without <see cref="ShardingSettings.Role"/> only keep them running). Workers are never
    /// passivated: it sets <paramref name="settings"/>' PassivateIdleAfter and
    /// MaxActiveEntitiesPerShard to none. Returns the region of <c>daemon-NAME</c>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public static IActorRef StartDaemonProcess(this ShardingExtension sharding, string name, int count, Func<int, Props> worker, ShardingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(sharding);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentNullException.ThrowIfNull(worker);
        settings ??= new ShardingSettings();
        settings.PassivateIdleAfter = null;
        settings.MaxActiveEntitiesPerShard = null;
        var region = sharding.Start(TypeName(name), id => worker(int.Parse(id, CultureInfo.InvariantCulture)), new Extractor(), settings);
        sharding.System.SpawnSystemActor(Props.Create(() => new KeepAlive(region, count, settings.RetryInterval)), "sharding-keep-alive-" + Shard.NameOf(name));
        return region;
    }

    /// <summary>
    /// Runs a projection per slice range across the cluster: the slices of the read side split into
    /// <paramref name="parts"/> ranges (<c>Slices.Ranges</c>), one daemon worker per range, which starts
    /// <paramref name="projection"/>(minSlice, maxSlice) on its node (with <c>system.Projections()</c>)
    /// and stops it before the worker moves elsewhere. Build each projection on
    /// <c>ProjectionSource.EventsBySlices(entityType, minSlice, maxSlice)</c>: its offset is stored
    /// per range, so the node that takes a range over continues where the previous one stopped.
    /// </summary>
    public static IActorRef StartProjections(this ShardingExtension sharding, string name, int parts, Func<int, int, Projection> projection, ShardingSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(projection);
        var ranges = Persistence.Query.Slices.Ranges(parts);
        settings ??= new ShardingSettings();
        settings.StopMessage = StopProjection.Instance;
        return sharding.StartDaemonProcess(name, parts, i => Props.Create(() => new ProjectionWorker(() => projection(ranges[i].MinSlice, ranges[i].MaxSlice))), settings);
    }

    internal static string TypeName(string name) => "daemon-" + name;

    /// <summary>Worker <c>i</c> is entity <c>i</c> of shard <c>i</c>.</summary>
    private sealed class Extractor : IMessageExtractor
    {
        public string? EntityId(object message) => (message as ShardingEnvelope)?.EntityId;

        public string ShardId(object message) => EntityId(message) ?? throw new ArgumentException($"{message.GetType().Name} is not for a daemon worker.", nameof(message));

        public object Unwrap(object message) => message is ShardingEnvelope envelope ? envelope.Message : message;
    }

    /// <summary>Asks every worker to run, now and every interval.</summary>
    private sealed class KeepAlive(IActorRef region, int count, TimeSpan interval) : Actor
    {
        protected override void PreStart()
        {
            Self.Tell(Ping.Instance, null);
            Timers.StartPeriodicTimer(Ping.Instance, Ping.Instance, interval, interval);
        }

        protected override void Receive(object message)
        {
            if (message is Ping)
            {
                for (var i = 0; i < count; i++)
                {
                    region.Tell(new ShardingEnvelope(i.ToString(CultureInfo.InvariantCulture), StartEntity.Instance), null);
                }
            }
        }

        private sealed class Ping
        {
            public static readonly Ping Instance = new();
        }
    }

    /// <summary>A worker that runs one projection while it lives, and stops it before it stops.</summary>
    private sealed class ProjectionWorker(Func<Projection> create) : Actor
    {
        private ProjectionHandle? _handle;

        protected override void PreStart() => _handle = Context.System.Projections().Start(create());

        protected override void PostStop()
        {
            if (_handle is { } handle)
            {
                _ = handle.StopAsync(); // stopped at once (a forced stop); a handoff stopped it before
            }
        }

        protected override void Receive(object message)
        {
            if (message is StopProjection && _handle is { } handle)
            {
                _handle = null;
                RunTask(async () =>
                {
                    await handle.StopAsync();
                    Context.Stop(Self);
                });
            }
        }
    }

    /// <summary>Stops a projection worker once its projection stopped.</summary>
    private sealed class StopProjection
    {
        public static readonly StopProjection Instance = new();
    }
}
