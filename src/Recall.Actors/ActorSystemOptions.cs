using Microsoft.Extensions.Logging;

namespace Recall.Actors;

/// <summary>Settings of an <see cref="ActorSystem"/>. Every property has a documented default.</summary>
public sealed class ActorSystemOptions
{
    private readonly List<Func<ActorSystem, object>> _extensions = [];

    /// <summary>
    /// The most user messages an actor handles in one turn on a thread before it yields the thread
    /// to other actors. Higher favours throughput, lower favours fairness. Default 100.
    /// </summary>
    public int Throughput { get; set; } = 100;

    /// <summary>The clock for timers, receive timeouts, asks and supervision windows. Default: the system clock.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Where the kernel, the stores and actors log. Default: warnings and errors to standard error
    /// (a <see cref="Recall.Diagnostics.TextLoggerFactory"/>), so that a failed recovery or a rejected event
    /// is never silent. Give a factory from Microsoft.Extensions.Logging for more (hosting uses the
    /// host's), or <c>NullLoggerFactory.Instance</c> for nothing.
    /// </summary>
    public ILoggerFactory LoggerFactory { get; set; } = new Recall.Diagnostics.TextLoggerFactory();

    /// <summary>The stash capacity of actors whose props set none. Default 100,000 messages.</summary>
    public int DefaultStashCapacity { get; set; } = 100_000;

    /// <summary>How many dead letters are logged one by one before the log says that it stops; they are all counted. Default 10.</summary>
    public int DeadLetterLogLimit { get; set; } = 10;

    /// <summary>The host other nodes reach this system at, or null for a local-only system (the default).</summary>
    public string? Host { get; set; }

    /// <summary>The port other nodes reach this system at; used with <see cref="Host"/>.</summary>
    public int? Port { get; set; }

    /// <summary>
    /// Registers an extension, created when the system starts and reachable through
    /// <see cref="ActorSystem.GetExtension{T}"/>. Extensions that implement
    /// <see cref="IAsyncDisposable"/> are disposed after all actors stopped. Stores and other
    /// libraries plug in through this.
    /// </summary>
    public ActorSystemOptions AddExtension<T>(Func<ActorSystem, T> factory)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(factory);
        _extensions.Add(factory);
        return this;
    }

    internal IReadOnlyList<Func<ActorSystem, object>> Extensions => _extensions;

    internal void Validate()
    {
        if (Throughput < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Throughput), Throughput, "ActorSystemOptions.Throughput must be at least 1.");
        }

        if (DefaultStashCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(DefaultStashCapacity), DefaultStashCapacity, "ActorSystemOptions.DefaultStashCapacity must be at least 1.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        ArgumentNullException.ThrowIfNull(LoggerFactory, nameof(LoggerFactory));
    }
}
