namespace Recall.Actors.Internal;

/// <summary>An actor's bounded stash; unstashed messages go before the mailbox, in original order.</summary>
internal sealed class StashBuffer(ActorCell cell, int capacity) : IStash
{
    private List<Envelope> _items = [];

    public int Count => _items.Count;

    public int Capacity => capacity;

    public void Stash()
    {
        var envelope = cell.CurrentEnvelope;
        if (envelope.Message is null)
        {
            throw new InvalidOperationException($"{cell.Self.Path} has no current message to stash.");
        }

        if (_items.Count >= capacity)
        {
            throw new StashOverflowException(cell.Self.Path, capacity);
        }

        _items.Add(envelope);
    }

    public void UnstashAll()
    {
        if (_items.Count == 0)
        {
            return;
        }

        cell.Prepend(_items);
        _items = [];
    }

    public List<Envelope> TakeAll()
    {
        var items = _items;
        _items = [];
        return items;
    }
}
