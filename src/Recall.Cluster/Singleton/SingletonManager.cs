using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Leases;

namespace Recall.Cluster.Singleton;

/// <summary>
/// Runs one cluster singleton on this node only while the node holds its lease: while the node is an
/// Up member, tries to take the lease every <see cref="ClusterOptions.SingletonRetryInterval"/>; once it holds it, gives the
/// singleton's path the lease's fencing token (so its journal writes carry it) and starts it; when
/// the lease is lost (not renewed in time, or taken away) it stops the singleton at once. A new
/// instance starts only after the previous one has stopped.
/// </summary>
internal sealed partial class SingletonManager(string name, Props props, Lease lease, ClusterExtension cluster) : Actor
{
    private IActorRef? _instance;
    private bool _instanceStopping;
    private long _startedWith;
    private CancellationTokenRegistration _lost;
    private bool _toldNotUp;
    private bool _handingOver;

    protected override void PreStart() => Self.Tell(TryAcquire.Instance, null);

    protected override void PostStop()
    {
        _lost.Dispose();
        Context.System.TryGetExtension<PersistenceExtension>()?.ClearFencingToken(InstancePath);
    }

    protected override void Receive(object message)
    {
        switch (message)
        {
            case HandOver:
                _handingOver = true;
                if (_instance is null)
                {
                    RunTask(ReleaseAsync);
                }
                else
                {
                    StopInstance("its node leaves the cluster");
                }

                break;
            case TryAcquire when _handingOver:
                break;
            case TryAcquire when !cluster.IsUp:
                if (!_toldNotUp)
                {
                    _toldNotUp = true;
                    Log.NotUp(Context.Logger, name, Context.System.Address);
                }

                Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, Options.SingletonRetryInterval);
                break;
            case TryAcquire when !lease.IsHeld:
                RunTask(AcquireAsync);
                break;
            case TryAcquire:
                StartInstanceIfReady();
                break;
            case LeaseLost lost when lost.Token == _startedWith:
                StopInstance("its lease was lost");
                Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, Options.SingletonRetryInterval);
                break;
            case LeaseLost:
                break;
            case Terminated terminated when ReferenceEquals(terminated.Actor, _instance) && _handingOver:
                _instance = null;
                RunTask(ReleaseAsync); // stopped: another node may start it at once
                break;
            case Terminated terminated when ReferenceEquals(terminated.Actor, _instance):
                _instance = null;
                _instanceStopping = false;

                // Start again if the lease is still held (the singleton stopped itself or failed),
                // after a pause: a singleton that fails at once must not spin.
                Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, Options.SingletonRetryInterval);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private ClusterOptions Options => cluster.Options;

    private ActorPath InstancePath => Self.Path.Child(name);

    private async Task ReleaseAsync()
    {
        try
        {
            await lease.ReleaseAsync();
        }
        catch (Exception exception)
        {
            Log.AcquireFailed(Context.Logger, exception, name); // it expires by itself
        }
    }

    private async Task AcquireAsync()
    {
        bool acquired;
        try
        {
            acquired = await lease.TryAcquireAsync();
        }
        catch (Exception exception)
        {
            Log.AcquireFailed(Context.Logger, exception, name);
            acquired = false;
        }

        if (acquired && _handingOver)
        {
            await ReleaseAsync();
        }
        else if (acquired)
        {
            StartInstanceIfReady();
        }
        else
        {
            Timers.StartSingleTimer(TryAcquire.Instance, TryAcquire.Instance, Options.SingletonRetryInterval);
        }
    }

    private void StartInstanceIfReady()
    {
        if (_instance is not null || _handingOver || !cluster.IsUp || !lease.IsHeld || lease.FencingToken is not { } token)
        {
            return; // running, or the previous instance is still stopping (its Terminated starts the next)
        }

        Context.System.TryGetExtension<PersistenceExtension>()?.SetFencingToken(InstancePath, token);
        _startedWith = token;
        _instance = Context.Spawn(props, name);
        Context.Watch(_instance);
        _lost.Dispose();
        var self = Self;
        _lost = lease.LostToken.Register(() => self.Tell(new LeaseLost(token), null));
        Log.Started(Context.Logger, name, Context.System.Address, token);
    }

    private void StopInstance(string reason)
    {
        if (_instance is not null && !_instanceStopping)
        {
            Log.Stopping(Context.Logger, name, reason);
            _instanceStopping = true;
            Context.Stop(_instance);
        }
    }

    /// <summary>The node leaves or is out: stop the instance, release the lease, take it no more.</summary>
    internal sealed class HandOver
    {
        public static readonly HandOver Instance = new();
    }

    private sealed class TryAcquire
    {
        public static readonly TryAcquire Instance = new();
    }

    private sealed record LeaseLost(long Token);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Singleton {Name}: started on {Node} with fencing token {Token}")]
        public static partial void Started(ILogger logger, string name, Address node, long token);

        [LoggerMessage(2, LogLevel.Warning, "Singleton {Name}: stopping it here because {Reason}")]
        public static partial void Stopping(ILogger logger, string name, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Singleton {Name}: the lease store could not be asked; trying again")]
        public static partial void AcquireFailed(ILogger logger, Exception exception, string name);

        [LoggerMessage(4, LogLevel.Information, "Singleton {Name}: {Node} runs it only once it is an Up member (await system.Cluster().JoinAsync())")]
        public static partial void NotUp(ILogger logger, string name, Address node);
    }
}
