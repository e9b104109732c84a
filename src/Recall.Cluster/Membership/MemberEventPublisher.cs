using Recall.Actors;

namespace Recall.Cluster.Membership;

/// <summary>
/// Sends member events to the actors subscribed with <c>system.Cluster().Subscribe</c>: first the
/// current members, then every change in order. A subscriber that stops is dropped.
/// </summary>
internal sealed class MemberEventPublisher : Actor
{
    private readonly HashSet<IActorRef> _subscribers = [];

    protected override void Receive(object message)
    {
        switch (message)
        {
            case Subscribe subscribe:
                if (_subscribers.Add(subscribe.Subscriber))
                {
                    Context.Watch(subscribe.Subscriber);
                    foreach (var current in subscribe.Current)
                    {
                        subscribe.Subscriber.Tell(current, Self);
                    }
                }

                break;
            case Unsubscribe unsubscribe:
                if (_subscribers.Remove(unsubscribe.Subscriber))
                {
                    Context.Unwatch(unsubscribe.Subscriber);
                }

                break;
            case Terminated terminated:
                _subscribers.Remove(terminated.Actor);
                break;
            case MemberEvent changed:
                foreach (var subscriber in _subscribers)
                {
                    subscriber.Tell(changed, Self);
                }

                break;
            default:
                Unhandled(message);
                break;
        }
    }

    internal sealed record Subscribe(IActorRef Subscriber, IReadOnlyList<MemberEvent> Current);

    internal sealed record Unsubscribe(IActorRef Subscriber);
}
