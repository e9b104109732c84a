namespace Recall.Actors;

/// <summary>What a supervisor does with a child that threw.</summary>
public enum Directive
{
    /// <summary>Keep the instance and its state; drop the failing message and go on.</summary>
    Resume,

    /// <summary>Replace the instance with a fresh one; the mailbox is kept, the failing message dropped.</summary>
    Restart,

    /// <summary>Stop the child for good.</summary>
    Stop,

    /// <summary>Fail the supervisor itself with the same exception, so its own parent decides.</summary>
    Escalate,
}

/// <summary>How a parent handles the failures of its children.</summary>
public abstract class SupervisorStrategy
{
    /// <summary>
    /// Restart on any exception, except that an actor that failed to start
    /// (<see cref="ActorInitializationException"/>) or did not handle a watched actor's
    /// termination (<see cref="DeathPactException"/>) is stopped. No retry limit.
    /// </summary>
    public static SupervisorStrategy Default { get; } = new OneForOneStrategy(DefaultDecider);

    /// <summary>Stop the child on any exception.</summary>
    public static SupervisorStrategy Stopping { get; } = new OneForOneStrategy(_ => Directive.Stop);

    /// <summary>The decision of <see cref="Default"/>.</summary>
    public static Directive DefaultDecider(Exception cause) => cause switch
    {
        ActorInitializationException => Directive.Stop,
        DeathPactException => Directive.Stop,
        _ => Directive.Restart,
    };

    /// <summary>Decides for one failure of one child, given that child's restart record.</summary>
    internal abstract Directive Decide(Exception cause, ChildRestartRecord record, DateTimeOffset now);
}

/// <summary>
/// Applies the decision to the failing child only. A retry window limits restarts: more than
/// <c>maxRetries</c> restarts within <c>withinTimeRange</c> stop the child instead.
/// </summary>
public sealed class OneForOneStrategy : SupervisorStrategy
{
    private readonly Func<Exception, Directive> _decider;

    /// <summary>Creates a strategy without a retry limit.</summary>
    public OneForOneStrategy(Func<Exception, Directive> decider)
        : this(-1, null, decider)
    {
    }

    /// <summary>Creates a strategy with a retry window.</summary>
    /// <param name="maxRetries">Restarts allowed within the window; -1 for no limit, 0 to stop at the first failure.</param>
    /// <param name="withinTimeRange">The window; null means the whole life of the child.</param>
    /// <param name="decider">Maps an exception to a directive.</param>
    public OneForOneStrategy(int maxRetries, TimeSpan? withinTimeRange, Func<Exception, Directive> decider)
    {
        ArgumentNullException.ThrowIfNull(decider);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetries, -1);
        MaxRetries = maxRetries;
        WithinTimeRange = withinTimeRange;
        _decider = decider;
    }

    /// <summary>Restarts allowed within <see cref="WithinTimeRange"/>; -1 for no limit.</summary>
    public int MaxRetries { get; }

    /// <summary>The retry window, or null for the child's whole life.</summary>
    public TimeSpan? WithinTimeRange { get; }

    internal override Directive Decide(Exception cause, ChildRestartRecord record, DateTimeOffset now)
    {
        var directive = _decider(cause);
        if (directive != Directive.Restart || MaxRetries < 0)
        {
            return directive;
        }

        if (WithinTimeRange is { } window && (record.WindowStart is not { } start || now - start > window))
        {
            record.WindowStart = now;
            record.Restarts = 0;
        }

        record.Restarts++;
        return record.Restarts > MaxRetries ? Directive.Stop : Directive.Restart;
    }
}

/// <summary>A child's restarts within its supervisor's retry window.</summary>
internal sealed class ChildRestartRecord
{
    public int Restarts;
    public DateTimeOffset? WindowStart;
}
