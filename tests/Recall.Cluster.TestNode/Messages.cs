using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Cluster.TestNode;

[EventType("cluster-node.where")]
public sealed record WhereNow;

[EventType("cluster-node.here")]
public sealed record HereNow(string Node);

/// <summary>The singleton of the test node: says where it runs.</summary>
public sealed class WhereSingleton : Actor
{
    protected override void Receive(object message)
    {
        if (message is WhereNow)
        {
            Sender.Tell(new HereNow(Context.System.Address.ToString()), Self);
        }
    }
}

[EventType("cluster-node.ticked")]
public sealed record Ticked(string Node);

/// <summary>
/// A persistent singleton that writes an event naming its node every 50 ms: a stale owner that
/// wrote after the new owner's first event would show in the journal. It prints
/// <c>@@TICKER start|stop &lt;unix ms&gt;</c> when it starts and stops.
/// </summary>
public sealed class TickerSingleton : PersistentActor
{
    private sealed record Tick;

    public override string PersistenceId => "ticker";

    protected override void PreStart()
    {
        base.PreStart();
        Console.WriteLine($"@@TICKER start {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
    }

    protected override void PostStop()
    {
        Console.WriteLine($"@@TICKER stop {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
        base.PostStop();
    }

    protected override void ReceiveCommand(object command)
    {
        if (command is Tick)
        {
            Persist(new Ticked(Context.System.Address.ToString()), _ => { });
        }
    }

    protected override void ReceiveRecover(object message)
    {
    }
}
