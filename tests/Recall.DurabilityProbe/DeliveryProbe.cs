using Recall.Actors;
using Recall.Persistence.Delivery;

namespace Recall.DurabilityProbe;

/// <summary>Asks the delivery sender to promise a message.</summary>
public sealed record Promise(int Number);

/// <summary>What the sender delivers, with its delivery id.</summary>
public sealed record Delivered(long DeliveryId, int Number);

/// <summary>The destination's confirmation.</summary>
public sealed record Confirmed(long DeliveryId);

/// <summary>The sender stored a promise.</summary>
public sealed record Promised(int Number);

/// <summary>The sender stored a confirmation.</summary>
public sealed record ConfirmationStored(long DeliveryId);

/// <summary>Asks how many deliveries are unconfirmed.</summary>
public sealed record CountUnconfirmed;

/// <summary>
/// The sender of the delivery crash test: persists each promise, delivers it at least once to
/// <c>destination</c>, and persists each confirmation. Its process is killed while deliveries
/// are unconfirmed; a new process must deliver all of them.
/// </summary>
public sealed class DeliverySender(string id, IActorRef destination, Action<int>? promised = null) : AtLeastOnceDeliveryActor
{
    /// <summary>The manifests of the events, for registration.</summary>
    public static void Register(Recall.Persistence.Serialization.EventTypeRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Register<Promised>("probe.promised.v1").Register<ConfirmationStored>("probe.confirmation-stored.v1");
    }

    /// <inheritdoc />
    public override string PersistenceId => id;

    /// <inheritdoc />
    protected override AtLeastOnceDeliveryOptions DeliveryOptions { get; } = new() { RedeliverInterval = TimeSpan.FromMilliseconds(500) };

    /// <inheritdoc />
    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Promise promise:
                Persist(new Promised(promise.Number), e =>
                {
                    Apply(e);
                    promised?.Invoke(e.Number);
                });
                break;
            case Confirmed confirmed:
                Persist(new ConfirmationStored(confirmed.DeliveryId), Apply);
                break;
            case CountUnconfirmed:
                Sender.Tell(UnconfirmedCount);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    /// <inheritdoc />
    protected override void ReceiveRecover(object message) => Apply(message);

    private void Apply(object @event)
    {
        switch (@event)
        {
            case Promised promised:
                Deliver(destination, deliveryId => new Delivered(deliveryId, promised.Number));
                break;
            case ConfirmationStored stored:
                ConfirmDelivery(stored.DeliveryId);
                break;
        }
    }
}

/// <summary>A destination that never answers: every delivery stays unconfirmed.</summary>
public sealed class SilentDestination : Actor
{
    /// <inheritdoc />
    protected override void Receive(object message)
    {
    }
}
