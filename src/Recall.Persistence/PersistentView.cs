using Recall.Actors;
using Recall.Persistence.Query;
using Recall.Persistence.Snapshots;

namespace Recall.Persistence;

/// <summary>
/// An actor kept up to date with the events of one persistence id, read from the live
/// <see cref="IReadJournal.EventsByPersistenceId"/> stream of the system's read journal: a query
/// model of one entity, in memory, that answers questions while the entity goes on writing.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> <see cref="ReceiveEvent"/> gets a <see cref="SnapshotOffer"/> first when the
/// view has its own snapshot, then every event after it in sequence order, each once per
/// incarnation. Commands and events interleave: a command sees the events handled so far.</para>
/// <para><b>Snapshots.</b> Optional: give the view a <see cref="ViewId"/> and call
/// <see cref="SaveSnapshot"/>; the next incarnation starts from it instead of event 1.
/// <see cref="SaveSnapshotSuccess"/> or <see cref="SaveSnapshotFailure"/> then arrives as a command.</para>
/// <para><b>Failure.</b> A stream that fails (the store is unreachable, an event cannot be read)
/// fails the view with that exception, and its supervisor decides (a restart reads again from the
/// snapshot or event 1). <b>Back-pressure.</b> At most <see cref="MaxBufferedEvents"/> events wait in
/// the mailbox; the stream pauses until the view catches up.</para>
/// </remarks>
public abstract class PersistentView : Actor
{
    private Follower? _follower;

    /// <summary>The persistence id whose events the view follows.</summary>
    public abstract string PersistenceId { get; }

    /// <summary>The id the view's own snapshots are stored under; null (the default) for a view without snapshots.</summary>
    public virtual string? ViewId => null;

    /// <summary>The sequence number of the last event handled (or of the snapshot the view started from).</summary>
    protected long LastSequenceNumber { get; private set; }

    /// <summary>How many events may wait in the mailbox before the stream pauses. Default 1,000.</summary>
    protected virtual int MaxBufferedEvents => 1000;

    /// <summary>Handles the view's snapshot (<see cref="SnapshotOffer"/>) and then each event of <see cref="PersistenceId"/>, the domain event after read adapters.</summary>
    protected abstract void ReceiveEvent(object message);

    /// <summary>Handles every other message: queries, and the results of <see cref="SaveSnapshot"/>.</summary>
    protected abstract void ReceiveCommand(object command);

    /// <summary>Saves <paramref name="snapshot"/> under <see cref="ViewId"/> at <see cref="LastSequenceNumber"/>.</summary>
    /// <exception cref="InvalidOperationException">The view has no <see cref="ViewId"/>, or the system has no snapshot store.</exception>
    protected void SaveSnapshot(object snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var (viewId, store) = SnapshotTarget() ?? throw new InvalidOperationException(
            $"View of '{PersistenceId}' cannot save a snapshot: " + (ViewId is null ? "it has no ViewId." : "the system has no snapshot store."));
        var metadata = new SnapshotMetadata(viewId, LastSequenceNumber, Context.System.TimeProvider.GetUtcNow());
        var self = Self;
        _ = Task.Run(async () =>
        {
            try
            {
                await store.SaveAsync(metadata, snapshot, CancellationToken.None).ConfigureAwait(false);
                self.Tell(new SaveSnapshotSuccess(metadata));
            }
            catch (Exception exception)
            {
                self.Tell(new SaveSnapshotFailure(metadata, exception));
            }
        });
    }

    /// <inheritdoc />
    protected sealed override void Receive(object message)
    {
        if (message is ViewEvent view)
        {
            if (ReferenceEquals(view.Follower, _follower))
            {
                _follower.Handled();
                if (view.Envelope.SequenceNumber > LastSequenceNumber)
                {
                    LastSequenceNumber = view.Envelope.SequenceNumber;
                    ReceiveEvent(view.Envelope.Event);
                }
            }
        }
        else if (message is ViewFailed failed)
        {
            if (ReferenceEquals(failed.Follower, _follower))
            {
                throw new ViewStreamException(PersistenceId, failed.Cause);
            }
        }
        else if (message is ViewStart start)
        {
            if (ReferenceEquals(start.Follower, _follower))
            {
                RunTask(() => StartAsync(start.Follower));
            }
        }
        else
        {
            ReceiveCommand(message);
        }
    }

    internal override void AroundPreStart()
    {
        base.AroundPreStart();
        _follower = new Follower(MaxBufferedEvents);
        Self.Tell(new ViewStart(_follower));
    }

    internal override void AroundPostRestart(Exception reason)
    {
        base.AroundPostRestart(reason);
        _follower = new Follower(MaxBufferedEvents);
        Self.Tell(new ViewStart(_follower));
    }

    internal override void AroundPreRestart(Exception reason, object? message)
    {
        StopFollowing();
        base.AroundPreRestart(reason, message);
    }

    internal override void AroundPostStop()
    {
        StopFollowing();
        base.AroundPostStop();
    }

    private void StopFollowing()
    {
        _follower?.Stop();
        _follower = null;
    }

    private (string ViewId, ISnapshotStore Store)? SnapshotTarget() =>
        ViewId is { } viewId && Context.System.Persistence().SnapshotStore is { } store ? (viewId, store) : null;

    private async Task StartAsync(Follower follower)
    {
        if (SnapshotTarget() is var (viewId, store))
        {
            var loaded = await store.LoadAsync(viewId, SnapshotSelectionCriteria.Latest, follower.Token);
            if (loaded is not null)
            {
                LastSequenceNumber = loaded.Metadata.SequenceNumber;
                ReceiveEvent(new SnapshotOffer(loaded.Metadata, loaded.Snapshot));
            }
        }

        follower.Start(Context.System.Persistence().ReadJournal, PersistenceId, LastSequenceNumber + 1, Self);
    }

    private sealed record ViewStart(Follower Follower);

    private sealed record ViewEvent(Follower Follower, EventEnvelope Envelope);

    private sealed record ViewFailed(Follower Follower, Exception Cause);

    /// <summary>Pumps the live stream into the view's mailbox, never more than the credit allows.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "Neither holds an OS handle here: no wait handle is taken and the token source has no timer.")]
    private sealed class Follower(int credit)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly SemaphoreSlim _credit = new(credit, credit);

        public CancellationToken Token => _stop.Token;

        public void Start(IReadJournal journal, string persistenceId, long from, IActorRef view) =>
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var envelope in journal.EventsByPersistenceId(persistenceId, from, long.MaxValue, live: true, _stop.Token).ConfigureAwait(false))
                    {
                        await _credit.WaitAsync(_stop.Token).ConfigureAwait(false);
                        view.Tell(new ViewEvent(this, envelope));
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
                catch (Exception exception)
                {
                    view.Tell(new ViewFailed(this, exception));
                }
            });

        public void Handled() => _credit.Release();

        public void Stop() => _stop.Cancel();
    }
}

/// <summary>The live stream of a <see cref="PersistentView"/> failed; the inner exception says why.</summary>
public sealed class ViewStreamException(string persistenceId, Exception inner)
    : Exception($"The view of '{persistenceId}' lost its event stream: {inner.Message}", inner)
{
    /// <summary>The persistence id the view follows.</summary>
    public string PersistenceId { get; } = persistenceId;
}
