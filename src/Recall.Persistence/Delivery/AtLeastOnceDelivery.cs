using Recall.Actors;

namespace Recall.Persistence.Delivery;

/// <summary>Settings of <see cref="AtLeastOnceDeliveryActor"/>. Every property has a documented default.</summary>
public sealed record AtLeastOnceDeliveryOptions
{
    /// <summary>How long a delivery waits for its confirmation before it is sent again. Default 5 s.</summary>
    public TimeSpan RedeliverInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The most messages sent again in one redelivery round, so a backlog does not flood the destination. Default 10,000.</summary>
    public int RedeliveryBurstLimit { get; init; } = 10_000;

    /// <summary>After this many attempts without confirmation a delivery is listed in an <see cref="UnconfirmedWarning"/>. Default 5.</summary>
    public int WarnAfterNumberOfUnconfirmedAttempts { get; init; } = 5;

    /// <summary>The most deliveries awaiting confirmation; <c>Deliver</c> beyond it throws. Default 100,000.</summary>
    public int MaxUnconfirmedMessages { get; init; } = 100_000;
}

/// <summary>A delivery that has not been confirmed yet.</summary>
/// <param name="DeliveryId">Its id, passed to the message factory and to <c>ConfirmDelivery</c>.</param>
/// <param name="Destination">Where it goes.</param>
/// <param name="Message">What is sent.</param>
/// <param name="Attempts">How often it was sent.</param>
public sealed record UnconfirmedDelivery(long DeliveryId, IActorRef Destination, object Message, int Attempts);

/// <summary>Sent to the actor itself when deliveries stay unconfirmed after <see cref="AtLeastOnceDeliveryOptions.WarnAfterNumberOfUnconfirmedAttempts"/> attempts.</summary>
/// <param name="Deliveries">The deliveries that crossed the threshold in this round.</param>
public sealed record UnconfirmedWarning(IReadOnlyList<UnconfirmedDelivery> Deliveries);

/// <summary>The delivery state to keep in a snapshot: the next id and every unconfirmed delivery.</summary>
/// <param name="NextDeliveryId">The id the next delivery gets.</param>
/// <param name="Unconfirmed">The deliveries that wait for confirmation.</param>
public sealed record AtLeastOnceDeliverySnapshot(long NextDeliveryId, IReadOnlyList<UnconfirmedDelivery> Unconfirmed);

/// <summary><c>Deliver</c> was called with <see cref="AtLeastOnceDeliveryOptions.MaxUnconfirmedMessages"/> deliveries unconfirmed.</summary>
public sealed class MaxUnconfirmedMessagesExceededException(string persistenceId, int max)
    : Exception($"'{persistenceId}' has {max} unconfirmed deliveries, its maximum (AtLeastOnceDeliveryOptions.MaxUnconfirmedMessages); confirm some before delivering more.")
{
    /// <summary>The maximum that was reached.</summary>
    public int Max { get; } = max;
}

/// <summary>
/// A persistent actor that sends messages at least once: <see cref="Deliver"/> sends a message
/// with a fresh delivery id and sends it again every <see cref="AtLeastOnceDeliveryOptions.RedeliverInterval"/>
/// until <see cref="ConfirmDelivery"/> is called with that id. Persist an event for each delivery
/// and each confirmation and call Deliver / ConfirmDelivery from their handlers (live and in
/// <c>ReceiveRecover</c>): during recovery Deliver only records, and after recovery every
/// unconfirmed delivery is sent again, so a crash loses no promised message. Receivers see
/// duplicates and reordering and must deduplicate by delivery id.
/// </summary>
public abstract class AtLeastOnceDeliveryActor : PersistentActor
{
    private readonly SortedDictionary<long, Pending> _unconfirmed = [];
    private long _nextDeliveryId = 1;
    private bool _ticking;

    /// <summary>The settings; override to change them. Default: <see cref="AtLeastOnceDeliveryOptions"/> defaults.</summary>
    protected virtual AtLeastOnceDeliveryOptions DeliveryOptions { get; } = new();

    /// <summary>How many deliveries wait for confirmation.</summary>
    protected int UnconfirmedCount => _unconfirmed.Count;

    /// <summary>
    /// Sends the message <paramref name="createMessage"/> makes from a new delivery id to
    /// <paramref name="destination"/>, and again until confirmed. During recovery it only records.
    /// </summary>
    /// <exception cref="MaxUnconfirmedMessagesExceededException">Too many deliveries are unconfirmed.</exception>
    protected void Deliver(IActorRef destination, Func<long, object> createMessage)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(createMessage);
        if (_unconfirmed.Count >= DeliveryOptions.MaxUnconfirmedMessages)
        {
            throw new MaxUnconfirmedMessagesExceededException(PersistenceId, DeliveryOptions.MaxUnconfirmedMessages);
        }

        var deliveryId = _nextDeliveryId++;
        var pending = new Pending(destination, createMessage(deliveryId));
        _unconfirmed.Add(deliveryId, pending);
        if (!IsRecovering)
        {
            Send(pending);
        }
    }

    /// <summary>Marks a delivery confirmed; returns whether it was unconfirmed (false for duplicates).</summary>
    protected bool ConfirmDelivery(long deliveryId) => _unconfirmed.Remove(deliveryId);

    /// <summary>The delivery state, to save in a snapshot together with the actor's own state.</summary>
    protected AtLeastOnceDeliverySnapshot GetDeliverySnapshot() =>
        new(_nextDeliveryId, [.. _unconfirmed.Select(p => new UnconfirmedDelivery(p.Key, p.Value.Destination, p.Value.Message, p.Value.Attempts))]);

    /// <summary>Restores the delivery state from a snapshot (in <c>ReceiveRecover</c>, on a <see cref="SnapshotOffer"/>).</summary>
    protected void SetDeliverySnapshot(AtLeastOnceDeliverySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _nextDeliveryId = snapshot.NextDeliveryId;
        _unconfirmed.Clear();
        foreach (var delivery in snapshot.Unconfirmed)
        {
            _unconfirmed[delivery.DeliveryId] = new Pending(delivery.Destination, delivery.Message) { Attempts = delivery.Attempts };
        }
    }

    internal override void AfterRecovery()
    {
        // Everything recorded during recovery was promised before the crash: send it now.
        RedeliverOverdue(all: true);
        EnsureTicking();
    }

    internal override void AroundPostStop()
    {
        Timers.CancelAll();
        base.AroundPostStop();
    }

    /// <summary>Handles the redelivery tick before the command handler sees anything.</summary>
    internal override bool HandleInternal(object message)
    {
        if (message is not RedeliveryTick)
        {
            return false;
        }

        RedeliverOverdue(all: false);
        return true;
    }

    private void EnsureTicking()
    {
        if (_ticking)
        {
            return;
        }

        _ticking = true;
        var interval = DeliveryOptions.RedeliverInterval / 2;
        Timers.StartPeriodicTimer(RedeliveryTick.Instance, RedeliveryTick.Instance, interval, interval);
    }

    private void RedeliverOverdue(bool all)
    {
        var now = Context.System.TimeProvider.GetUtcNow();
        var options = DeliveryOptions;
        var sent = 0;
        List<UnconfirmedDelivery>? warnings = null;
        foreach (var (deliveryId, pending) in _unconfirmed)
        {
            if (sent >= options.RedeliveryBurstLimit)
            {
                break;
            }

            if (!all && now - pending.LastSent < options.RedeliverInterval)
            {
                continue;
            }

            Send(pending);
            sent++;
            if (pending.Attempts == options.WarnAfterNumberOfUnconfirmedAttempts)
            {
                (warnings ??= []).Add(new UnconfirmedDelivery(deliveryId, pending.Destination, pending.Message, pending.Attempts));
            }
        }

        if (warnings is not null)
        {
            Self.Tell(new UnconfirmedWarning(warnings), Self);
        }
    }

    private void Send(Pending pending)
    {
        pending.Attempts++;
        pending.LastSent = Context.System.TimeProvider.GetUtcNow();
        pending.Destination.Tell(pending.Message, Self);
    }

    private sealed class Pending(IActorRef destination, object message)
    {
        public IActorRef Destination { get; } = destination;

        public object Message { get; } = message;

        public int Attempts { get; set; }

        public DateTimeOffset LastSent { get; set; }
    }

    private sealed class RedeliveryTick
    {
        public static RedeliveryTick Instance { get; } = new();
    }
}
