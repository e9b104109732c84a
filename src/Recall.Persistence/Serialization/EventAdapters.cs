namespace Recall.Persistence.Serialization;

/// <summary>Wraps an event with tags; persisting a <see cref="Tagged"/> stores the payload with the tags.</summary>
/// <param name="Payload">The event.</param>
/// <param name="Tags">Its tags.</param>
public sealed record Tagged(object Payload, IReadOnlyList<string> Tags)
{
    /// <summary>Tags <paramref name="payload"/> with <paramref name="tags"/>.</summary>
    public Tagged(object payload, params string[] tags)
        : this(payload, (IReadOnlyList<string>)tags)
    {
    }
}

/// <summary>
/// Maps events between the domain model and their stored form, for schema evolution: the domain
/// can change while old events stay readable. Register adapters in <c>PersistenceOptions.Adapters</c>.
/// </summary>
public interface IEventAdapter
{
    /// <summary>The stored form of a domain event (may be a <see cref="Tagged"/> to add tags). Return it unchanged if nothing to do.</summary>
    object ToJournal(object @event);

    /// <summary>The domain events a stored payload stands for: usually one, possibly none or several.</summary>
    IReadOnlyList<object> FromJournal(object stored, string manifest);
}

/// <summary>The adapters of a system: write adapters by domain type, read adapters by stored type.</summary>
public sealed class EventAdapters
{
    private readonly Dictionary<Type, IEventAdapter> _write = [];
    private readonly Dictionary<Type, IEventAdapter> _read = [];

    /// <summary>Whether any adapter is registered (the runtime skips adapter lookups otherwise).</summary>
    public bool IsEmpty => _write.Count == 0 && _read.Count == 0;

    /// <summary>Applies <paramref name="adapter"/> when a <typeparamref name="TDomain"/> is persisted.</summary>
    public EventAdapters AddWrite<TDomain>(IEventAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        _write[typeof(TDomain)] = adapter;
        return this;
    }

    /// <summary>Applies <paramref name="adapter"/> when a stored <typeparamref name="TStored"/> is replayed.</summary>
    public EventAdapters AddRead<TStored>(IEventAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        _read[typeof(TStored)] = adapter;
        return this;
    }

    /// <summary>The stored form of <paramref name="event"/>, split into payload and tags.</summary>
    public (object Payload, IReadOnlyList<string> Tags) ToJournal(object @event)
    {
        ArgumentNullException.ThrowIfNull(@event);
        var stored = _write.TryGetValue(@event.GetType(), out var adapter) ? adapter.ToJournal(@event) : @event;
        return stored is Tagged tagged ? (tagged.Payload, tagged.Tags) : (stored, []);
    }

    /// <summary>The domain events of a stored payload.</summary>
    public IReadOnlyList<object> FromJournal(object stored, string manifest)
    {
        ArgumentNullException.ThrowIfNull(stored);
        return _read.TryGetValue(stored.GetType(), out var adapter) ? adapter.FromJournal(stored, manifest) : [stored];
    }
}
