namespace Recall.Persistence;

/// <summary>
/// The id of an entity's history, made of its entity type and its id within that type, written
/// <c>entityType|entityId</c>. The entity type lets the read side split events by type.
/// </summary>
/// <param name="EntityType">The kind of entity, e.g. <c>account</c>; must not contain '|'.</param>
/// <param name="EntityId">The entity's id within its type, e.g. <c>alice</c>.</param>
public readonly record struct PersistenceId(string EntityType, string EntityId)
{
    /// <summary>The separator between entity type and id.</summary>
    public const char Separator = '|';

    /// <summary>The persistence id of <paramref name="entityId"/> of type <paramref name="entityType"/>.</summary>
    /// <exception cref="ArgumentException">A part is empty, or the entity type contains '|'.</exception>
    public static PersistenceId Of(string entityType, string entityId)
    {
        ArgumentException.ThrowIfNullOrEmpty(entityType);
        ArgumentException.ThrowIfNullOrEmpty(entityId);
        if (entityType.Contains(Separator, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Entity type '{entityType}' must not contain '{Separator}'.", nameof(entityType));
        }

        return new PersistenceId(entityType, entityId);
    }

    /// <summary>The stored form, <c>entityType|entityId</c>.</summary>
    public string Value => EntityType + Separator + EntityId;

    /// <summary>The stored form.</summary>
    public static implicit operator string(PersistenceId id) => id.Value;

    /// <inheritdoc />
    public override string ToString() => Value;
}

/// <summary>An event handler met an event it does not know; recovery reports it with the event's position.</summary>
public sealed class UnexpectedEventException(object @event, object? state)
    : Exception($"Unexpected event {@event?.GetType().Name} in state {state?.GetType().Name}.")
{
    /// <summary>The event.</summary>
    public object Event { get; } = @event!;
}
