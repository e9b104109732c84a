namespace Recall.Persistence.Tests.Support;

// ---- what a command asks the recorder to do, step by step

public abstract record Op;

public sealed record PersistOp(object Event) : Op;

public sealed record PersistAllOp(object[] Events) : Op;

public sealed record PersistAsyncOp(object Event) : Op;

public sealed record PersistAllAsyncOp(object[] Events) : Op;

public sealed record DeferOp(object Event) : Op;

public sealed record DeferAsyncOp(object Event) : Op;

/// <summary>Writes a note to the log at once, while the command is being handled.</summary>
public sealed record NoteOp(string Text) : Op;

/// <summary>A command: the recorder logs <see cref="Received"/>, then runs the steps in order.</summary>
public sealed record Cmd(string Name, params Op[] Ops);

public static class Ops
{
    public static Op Persist(object e) => new PersistOp(e);

    public static Op PersistAll(params object[] es) => new PersistAllOp(es);

    public static Op PersistAsync(object e) => new PersistAsyncOp(e);

    public static Op PersistAllAsync(params object[] es) => new PersistAllAsyncOp(es);

    public static Op Defer(object e) => new DeferOp(e);

    public static Op DeferAsync(object e) => new DeferAsyncOp(e);

    public static Op Note(string text) => new NoteOp(text);
}

public sealed record TakeSnapshot;

public sealed record DeleteEvents(long ToSequenceNumber);

public sealed record DeleteSnapshotAt(long SequenceNumber);

public sealed record DeleteSnapshotsMatching(SnapshotSelectionCriteria Criteria);

public sealed record GetState;

// ---- what the recorder writes to its log (a probe), in the order it happens

public sealed record Received(string Command);

public sealed record Handled(object Event, long SequenceNumber);

public sealed record Noted(string Text);

public sealed record Replayed(object Event, long SequenceNumber);

public sealed record SnapshotOffered(long SequenceNumber, string State);

/// <summary>Recovery completed with <see cref="State"/>: the events applied so far, comma-separated.</summary>
public sealed record Recovered(long LastSequenceNumber, string State);

public sealed record PersistFailed(Exception Cause, object Event, long SequenceNumber);

public sealed record PersistRejected(Exception Cause, object Event, long SequenceNumber);

public sealed record RecoveryFailed(Exception Cause, object? Event);

// ---- replies to the sender of a command

public sealed record Ack(object Event);

public sealed record StateReply(string State, long LastSequenceNumber);

[EventType("test.recorder-snapshot.v1")]
public sealed record RecorderSnapshot(string[] Events);

/// <summary>
/// A persistent actor driven by <see cref="Cmd"/>s, which logs every step of its life to a probe:
/// what it replays, each command it receives, each handler run with <c>LastSequenceNumber</c>, and its
/// failure hooks. Each handler also replies <see cref="Ack"/> to <c>Sender</c>, so tests see whose
/// sender a handler ran with.
/// </summary>
public sealed class Recorder(string persistenceId, IActorRef log, Recovery? recovery = null) : PersistentActor
{
    private readonly List<string> _events = [];

    public override string PersistenceId => persistenceId;

    protected override Recovery Recovery => recovery ?? Recovery.Default;

    private string State => string.Join(",", _events);

    public static Props Props(string persistenceId, IActorRef log, Recovery? recovery = null) =>
        Actors.Props.Create(() => new Recorder(persistenceId, log, recovery));

    public static string Describe(object e) => e is Tagged tagged ? tagged.Payload.ToString()! : e.ToString()!;

    protected override void ReceiveRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer offer:
                _events.Clear();
                _events.AddRange(((RecorderSnapshot)offer.Snapshot).Events);
                log.Tell(new SnapshotOffered(offer.Metadata.SequenceNumber, State));
                break;
            case RecoveryCompleted:
                log.Tell(new Recovered(LastSequenceNumber, State));
                break;
            default:
                _events.Add(Describe(message));
                log.Tell(new Replayed(message, LastSequenceNumber));
                break;
        }
    }

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Cmd cmd:
                log.Tell(new Received(cmd.Name));
                foreach (var op in cmd.Ops)
                {
                    Run(op);
                }

                break;
            case TakeSnapshot:
                SaveSnapshot(new RecorderSnapshot([.. _events]));
                break;
            case DeleteEvents delete:
                DeleteMessages(delete.ToSequenceNumber);
                break;
            case DeleteSnapshotAt delete:
                DeleteSnapshot(delete.SequenceNumber);
                break;
            case DeleteSnapshotsMatching delete:
                DeleteSnapshots(delete.Criteria);
                break;
            case GetState:
                Sender.Tell(new StateReply(State, LastSequenceNumber));
                break;
            case SaveSnapshotSuccess or SaveSnapshotFailure or DeleteSnapshotSuccess or DeleteSnapshotFailure
                or DeleteSnapshotsSuccess or DeleteSnapshotsFailure or DeleteMessagesSuccess or DeleteMessagesFailure:
                log.Tell(command);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNumber) =>
        log.Tell(new PersistFailed(cause, @event, sequenceNumber));

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNumber) =>
        log.Tell(new PersistRejected(cause, @event, sequenceNumber));

    protected override void OnRecoveryFailure(Exception cause, object? @event) =>
        log.Tell(new RecoveryFailed(cause, @event));

    private void Run(Op op)
    {
        switch (op)
        {
            case PersistOp p:
                Persist(p.Event, Handle);
                break;
            case PersistAllOp p:
                PersistAll(p.Events, Handle);
                break;
            case PersistAsyncOp p:
                PersistAsync(p.Event, Handle);
                break;
            case PersistAllAsyncOp p:
                PersistAllAsync(p.Events, Handle);
                break;
            case DeferOp d:
                Defer(d.Event, Handle);
                break;
            case DeferAsyncOp d:
                DeferAsync(d.Event, Handle);
                break;
            case NoteOp n:
                log.Tell(new Noted(n.Text));
                break;
        }
    }

    private void Handle(object e)
    {
        _events.Add(Describe(e));
        log.Tell(new Handled(e, LastSequenceNumber));
        Sender.Tell(new Ack(e));
    }
}

public sealed record ChildFailed(Exception Cause);

/// <summary>Runs one child, forwards everything to it, and stops it on any failure, logging the cause.</summary>
public sealed class StoppingParent(Props child, IActorRef log) : Actor
{
    private IActorRef? _child;

    protected override SupervisorStrategy SupervisorStrategy => new OneForOneStrategy(cause =>
    {
        log.Tell(new ChildFailed(cause), null);
        return Directive.Stop;
    });

    protected override void PreStart() => _child = Context.Spawn(child, "child");

    protected override void Receive(object message) => _child!.Forward(message);
}
