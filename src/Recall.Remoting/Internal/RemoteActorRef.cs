using System.Diagnostics;
using Recall.Actors;
using Recall.Actors.Internal;

namespace Recall.Remoting.Internal;

/// <summary>
/// The ref of an actor in another process. Sending enqueues on the association of its node
/// (never blocks, never throws); refs are equal when their paths are.
/// </summary>
internal sealed class RemoteActorRef(ActorSystem system, ActorPath path, Association association) : IInternalActorRef
{
    public ActorPath Path { get; } = path;

    public ActorSystem System { get; } = system;

    public Association Association { get; } = association;

    public void Tell(object message, IActorRef? sender)
    {
        ArgumentNullException.ThrowIfNull(message);
        Association.Send(new Outbound(RecordKind.Message, this, message, sender, null, 0, Trace: Activity.Current?.Id));
    }

    public void SendSystemMessage(SystemMessage message)
    {
        switch (message)
        {
            case Watch watch:
                Association.Watch(this, watch.Watcher);
                break;
            case Unwatch unwatch:
                Association.Unwatch(this, unwatch.Watcher);
                break;
            case DeathWatchNotification notification:
                // This ref is a remote watcher of a local actor that stopped: tell its node.
                if (notification.Actor is IInternalActorRef subject)
                {
                    Association.WatchedHere(subject, this, watching: false);
                }

                Association.Send(new Outbound(RecordKind.Terminated, this, null, null, notification.Actor.Path, 0));
                break;
            case AskFailed failed:
                // This ref is an ask's reply ref: the ask fails at once on its node.
                Association.Send(new Outbound(RecordKind.AskFailed, this, failed.Reason, null, null, 0));
                break;
        }
    }

    public override bool Equals(object? obj) => obj is RemoteActorRef other && other.Path.Equals(Path);

    public override int GetHashCode() => Path.GetHashCode();

    public override string ToString() => Path.ToString();
}

/// <summary>
/// One item for a peer: a record of <paramref name="Kind"/> about <paramref name="Target"/> (the
/// recipient, watchee or remote watcher); <paramref name="Other"/> is the second path of control
/// records, <paramref name="Request"/> the number of an identify request or reply, <paramref name="Trace"/>
/// the W3C traceparent of the activity current where a message was told.
/// </summary>
internal readonly record struct Outbound(RecordKind Kind, RemoteActorRef? Target, object? Message, IActorRef? Sender, ActorPath? Other, long Request, ActorPath? TargetPath = null, string? Trace = null)
{
    public ActorPath Path => Target?.Path ?? TargetPath!;
}
