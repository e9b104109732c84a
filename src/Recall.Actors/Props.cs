namespace Recall.Actors;

/// <summary>
/// The recipe for an actor: how to create its instance (again, on restart) and how it runs.
/// Immutable; the <c>With*</c> methods return a copy.
/// </summary>
public sealed record Props
{
    private Props(Func<Actor> factory) => Factory = factory;

    /// <summary>Creates a new actor instance; called on start and on every restart.</summary>
    public Func<Actor> Factory { get; }

    /// <summary>The most messages the actor may stash, or null for the system default.</summary>
    public int? StashCapacity { get; init; }

    /// <summary>Props whose actor is created by <paramref name="factory"/>.</summary>
    public static Props Create(Func<Actor> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new Props(factory);
    }

    /// <summary>Props whose actor is created by its parameterless constructor.</summary>
    public static Props Create<TActor>()
        where TActor : Actor, new() => new(static () => new TActor());

    /// <summary>A copy with the given stash capacity.</summary>
    public Props WithStashCapacity(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        return this with { StashCapacity = capacity };
    }
}
