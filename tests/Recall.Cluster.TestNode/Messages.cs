using Recall.Actors;
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
