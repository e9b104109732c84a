using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Cluster.Dashboard;
using Recall.Cluster.Membership;
using Recall.Persistence.Leases;
using Recall.Remoting;

namespace Recall.Cluster;

/// <summary>
/// The cluster in one actor system: its membership (join, leave, the members and their changes),
/// its identity as a lease holder, and the singletons it takes part in. Reach it with
/// <c>system.Cluster()</c>.
/// </summary>
public sealed partial class ClusterExtension : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<IActorRef> _managers = [];
    private readonly ConcurrentQueue<Func<Task>> _leaveSteps = new();
    private readonly ClusterMembership _membership;
    private DashboardServer? _dashboard;

    internal ClusterExtension(ActorSystem system, ClusterOptions options)
    {
        System = system;
        Options = options;
        Leases = options.Leases!;
        _membership = new ClusterMembership(system, options, system.Remoting().Incarnation, HandOverSingletons);
    }

    /// <summary>The system this belongs to.</summary>
    public ActorSystem System { get; }

    /// <summary>The settings.</summary>
    public ClusterOptions Options { get; }

    /// <summary>Where leases live.</summary>
    public ILeaseStore Leases { get; }

    /// <summary>
    /// This node as a lease holder: its address and incarnation, so that a restarted node at the
    /// same address is another holder (and gets a higher fencing token).
    /// </summary>
    public string HolderId => $"{System.Address}#{System.Remoting().Incarnation}";

    /// <summary>The members as this node last read them (every one but those that left), ordered by address.</summary>
    public IReadOnlyList<Member> Members => _membership.Members;

    /// <summary>This node as a member, or null before it joined.</summary>
    public Member? SelfMember => _membership.Self;

    /// <summary>Whether this node is an Up member now.</summary>
    public bool IsUp => _membership.IsUp;

    /// <summary>Whether <paramref name="address"/> is a member that may still act (Joining, Up or Leaving), as this node last read the members.</summary>
    internal bool IsActiveMember(Address address) =>
        Members.Any(m => m.Address.Equals(address) && m.Status <= Recall.Persistence.Membership.MemberStatus.Leaving);

    /// <summary>
    /// Member events: each enumeration starts with the current members (<see cref="MemberEvent.Previous"/>
    /// null), then yields every change in order until it is cancelled or the system terminates.
    /// </summary>
    public IAsyncEnumerable<MemberEvent> Events => _membership.Events;

    /// <summary>
    /// Joins the cluster: writes this node as Joining, then Up, in the membership store, and starts
    /// its heartbeat. Waits up to <see cref="ClusterOptions.DownAfter"/> for a silent earlier run at
    /// the same address to lose it. Calling it again once joined does nothing.
    /// </summary>
    /// <exception cref="ClusterJoinException">The store failed (its message says why), or another node is live at this address.</exception>
    /// <exception cref="InvalidOperationException">The dashboard (<see cref="ClusterOptions.UseDashboard"/>) could not listen on its port.</exception>
    public async Task JoinAsync(CancellationToken cancellationToken = default)
    {
        await _membership.JoinAsync(cancellationToken);
        if (Options.Dashboard is { } dashboard && _dashboard is null)
        {
            _dashboard = await DashboardServer.StartAsync(dashboard, new ClusterDashboardSource(this), System.LoggerFactory, cancellationToken);
            Log.DashboardListening(System.LoggerFactory.CreateLogger("Recall.Cluster"), _dashboard.Address, dashboard.Token is null ? "read-only" : "actions with its token");
        }
    }

    /// <summary>Where this node serves the dashboard (<see cref="ClusterOptions.UseDashboard"/>), once it joined; null otherwise.</summary>
    public Uri? DashboardAddress => _dashboard?.Address;

    /// <summary>
    /// Leaves the cluster: writes Leaving, hands the shards here over to other nodes (their entities
    /// finish their writes; messages to them wait and follow), stops the singletons here and
    /// releases their leases (another node takes them over at once), then terminates the actor
    /// system, writing Exiting, then Removed. Completes when the system has terminated.
    /// </summary>
    public async Task LeaveAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(Options.DownAfter);
            await _membership.MarkLeavingAsync(timeout.Token);
        }
        catch (Exception)
        {
            // the store did not answer in time: leave anyway, the others mark this node down
        }

        try
        {
            // Shards first: their coordinator may be a singleton on this node.
            foreach (var step in _leaveSteps)
            {
                try
                {
                    await step();
                }
                catch (Exception)
                {
                    // bounded by the step itself; what was not handed over stops with the system
                }
            }

            HandOverSingletons();
        }
        finally
        {
            await System.TerminateAsync();
        }
    }

    /// <summary>Adds work a graceful leave awaits (bounded by its own timeout) before the singletons hand over and the system terminates.</summary>
    internal void AddLeaveStep(Func<Task> step) => _leaveSteps.Enqueue(step);

    /// <summary>Sends <paramref name="subscriber"/> a <see cref="MemberEvent"/> for every current member, then every change, until it stops or unsubscribes.</summary>
    public void Subscribe(IActorRef subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        _membership.Subscribe(subscriber);
    }

    /// <summary>Stops sending member events to <paramref name="subscriber"/>.</summary>
    public void Unsubscribe(IActorRef subscriber)
    {
        ArgumentNullException.ThrowIfNull(subscriber);
        _membership.Unsubscribe(subscriber);
    }

    /// <summary>The address in a holder id written by <see cref="HolderId"/>.</summary>
    public static Address AddressOfHolder(string holderId)
    {
        ArgumentNullException.ThrowIfNull(holderId);
        var hash = holderId.LastIndexOf('#');
        return ActorPath.Parse(hash < 0 ? holderId : holderId[..hash]).Address;
    }

    /// <summary>
    /// Starts the cluster singleton <paramref name="name"/> on this node's side: a manager that runs
    /// the singleton (from <paramref name="props"/>) only while this node holds the lease
    /// <c>singleton:NAME</c>, and a proxy that reaches the singleton wherever it runs. Call it on
    /// every node that may host the singleton; the returned proxy buffers messages while no
    /// singleton is reachable.
    /// </summary>
    public IActorRef StartSingleton(string name, Props props)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(props);
        var lease = _leases.GetOrAdd(name, n => new Lease(Leases, LeaseName(n), HolderId, Options.Lease, System.TimeProvider, System.LoggerFactory.CreateLogger("Recall.Cluster")));
        _managers.Add(System.SpawnSystemActor(Props.Create(() => new Singleton.SingletonManager(name, props, lease, this)), ManagerName(name)));
        return StartSingletonProxy(name);
    }

    /// <summary>A proxy to the singleton <paramref name="name"/>, for nodes that send to it but do not host it.</summary>
    public IActorRef StartSingletonProxy(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return System.SpawnSystemActor(Props.Create(() => new Singleton.SingletonProxy(name, this)), "singleton-proxy-" + name);
    }

    /// <summary>Releases the leases this node holds, after its actors stopped (another node takes over at once), then writes that it left.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_dashboard is not null)
        {
            await _dashboard.DisposeAsync();
        }

        foreach (var lease in _leases.Values)
        {
            try
            {
                await lease.DisposeAsync();
            }
            catch (Exception)
            {
                // the lease expires by itself
            }
        }

        await _membership.DisposeAsync();
    }

    /// <summary>The node leaves or is out: every singleton manager stops its instance and then releases its lease.</summary>
    private void HandOverSingletons()
    {
        foreach (var manager in _managers)
        {
            manager.Tell(Singleton.SingletonManager.HandOver.Instance, null);
        }
    }

    internal static string LeaseName(string singleton) => "singleton:" + singleton;

    internal static string ManagerName(string singleton) => "singleton-" + singleton;

    /// <summary>The path the singleton has on the node at <paramref name="address"/>.</summary>
    internal static ActorPath SingletonPath(Address address, string singleton) =>
        ActorPath.Root(address).Child("system").Child(ManagerName(singleton)).Child(singleton);

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Information, "Cluster: dashboard at {Address} ({Mode})")]
        public static partial void DashboardListening(ILogger logger, Uri address, string mode);
    }
}

/// <summary>Turns the cluster on for an actor system, and reaches it afterwards.</summary>
public static class ClusterActorSystemOptionsExtensions
{
    /// <summary>
    /// Makes the system a cluster node: remoting on the configured endpoint, members and leases in
    /// the configured stores (cluster singletons run only under their lease, on Up members). The
    /// node becomes a member with <c>await system.Cluster().JoinAsync()</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is invalid or missing; the message names it.</exception>
    public static ActorSystemOptions UseCluster(this ActorSystemOptions options, Action<ClusterOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configure);
        var cluster = new ClusterOptions();
        configure(cluster);
        cluster.Validate();
        options.UseRemoting(cluster.Remoting);
        options.AddExtension(system => new ClusterExtension(system, cluster));
        options.AddExtension(system => new Sharding.ShardingExtension(system));
        return options;
    }

    /// <summary>The system's cluster.</summary>
    /// <exception cref="InvalidOperationException">The system was created without <see cref="UseCluster"/>.</exception>
    public static ClusterExtension Cluster(this ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.TryGetExtension<ClusterExtension>()
            ?? throw new InvalidOperationException($"Actor system '{system.Name}' is not a cluster node: create it with options.UseCluster(c => c.Listen(host, port).UseMembershipStore(...).UseLeaseStore(...)).");
    }
}
