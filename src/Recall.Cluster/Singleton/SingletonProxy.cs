using Recall.Actors;

namespace Recall.Cluster.Singleton;

/// <summary>
/// Sends to a cluster singleton wherever it runs: the node that holds the singleton's lease. While
/// no singleton is reachable (none runs yet, or it moves) messages wait in a bounded buffer and
/// follow in order once it is found; beyond <see cref="ClusterOptions.ProxyBufferSize"/> they become
/// dead letters. The proxy watches the singleton and looks again when it stops, and reads the
/// lease's holder every half <see cref="ClusterOptions.SingletonRetryInterval"/> to follow a handover.
/// </summary>
internal sealed class SingletonProxy(string name, ClusterExtension cluster) : Actor
{
    private static readonly TimeSpan LookAgain = TimeSpan.FromMilliseconds(200);
    private readonly Queue<(object Message, IActorRef? Sender)> _buffer = new();
    private IActorRef? _target;
    private bool _locating;
    private int _generation; // bumped whenever the target changes or is lost: an older lookup's answer is stale

    /// <summary>How often it reads the lease's holder: half the managers' retry interval, so that it finds a new singleton soon after one starts.</summary>
    private TimeSpan CheckInterval => cluster.Options.SingletonRetryInterval / 2;

    protected override void PreStart()
    {
        Self.Tell(Locate.Instance, null);
        Timers.StartPeriodicTimer(Check.Instance, Check.Instance, CheckInterval, CheckInterval);
    }

    /// <summary>What is still buffered when the proxy stops (its system terminates) becomes dead letters, counted and logged, not lost silently.</summary>
    protected override void PostStop()
    {
        while (_buffer.TryDequeue(out var item))
        {
            Context.System.DeadLetters.Tell(new DeadLetter(item.Message, item.Sender, Self), item.Sender);
        }
    }

    protected override void Receive(object message)
    {
        switch (message)
        {
            case Locate:
                StartLocating();
                break;
            case Check:
                StartLocating();
                break;
            case Located located:
                _locating = false;
                if (located.Generation == _generation)
                {
                    Found(located.Target);
                }
                else if (_target is null)
                {
                    Timers.StartSingleTimer(Locate.Instance, Locate.Instance, LookAgain);
                }

                break;
            case Terminated terminated when terminated.Actor.Equals(_target):
                _target = null;
                _generation++;
                Timers.StartSingleTimer(Locate.Instance, Locate.Instance, LookAgain);
                break;
            case Terminated:
                break;
            default:
                if (_target is not null)
                {
                    _target.Tell(message, Sender);
                }
                else if (_buffer.Count < cluster.Options.ProxyBufferSize)
                {
                    _buffer.Enqueue((message, Sender));
                }
                else
                {
                    Context.System.DeadLetters.Tell(new DeadLetter(message, Sender, Self), Sender);
                }

                break;
        }
    }

    private void StartLocating()
    {
        if (_locating)
        {
            return;
        }

        _locating = true;
        var self = Self;
        var current = _target;
        var generation = _generation;
        _ = LocateAsync(current).ContinueWith(t => self.Tell(new Located(t.IsCompletedSuccessfully ? t.Result : null, generation), null), TaskScheduler.Default);
    }

    /// <summary>Runs off the actor: it reads only what it is given.</summary>
    private async Task<IActorRef?> LocateAsync(IActorRef? current)
    {
        var record = await cluster.Leases.ReadAsync(ClusterExtension.LeaseName(name), CancellationToken.None);
        if (record is null)
        {
            return null;
        }

        // A holder that is no longer a member (it left or is down; its lease row stays until another
        // node takes it) is not asked: that would only open a connection to a node that is gone.
        var holder = ClusterExtension.AddressOfHolder(record.Holder);
        if (!holder.Equals(cluster.System.Address) && !cluster.IsActiveMember(holder))
        {
            return null;
        }

        var path = ClusterExtension.SingletonPath(holder, name);
        if (current is not null && current.Path.Equals(path))
        {
            return current;
        }

        try
        {
            return await cluster.System.ResolveAsync(path, TimeSpan.FromSeconds(2));
        }
        catch (ActorNotFoundException)
        {
            return null;
        }
    }

    private void Found(IActorRef? target)
    {
        if (target is null)
        {
            if (_target is null)
            {
                Timers.StartSingleTimer(Locate.Instance, Locate.Instance, LookAgain);
            }

            return;
        }

        if (!target.Equals(_target))
        {
            if (_target is not null)
            {
                Context.Unwatch(_target);
            }

            _target = target;
            _generation++;
            Context.Watch(target);
        }

        while (_buffer.TryDequeue(out var item))
        {
            target.Tell(item.Message, item.Sender);
        }
    }

    private sealed class Locate
    {
        public static readonly Locate Instance = new();
    }

    private sealed class Check
    {
        public static readonly Check Instance = new();
    }

    private sealed record Located(IActorRef? Target, int Generation);
}
