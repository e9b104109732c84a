using Recall.Actors;

namespace Recall.Hosting;

/// <summary>
/// How the host keeps an actor registered with <see cref="RecallBuilder.AddActor{TActor}(string, Action{HostedActorOptions}, object[])"/>
/// alive, and what it does when the actor is gone for good.
/// </summary>
public sealed class HostedActorOptions
{
    /// <summary>
    /// Runs the actor under a <see cref="BackoffSupervisor"/> that starts it again, after a growing
    /// delay, whenever it stops: a persistent actor stops when its recovery or a write fails (a
    /// database that is not up yet, a connection lost), and comes back with its state recovered once
    /// the database answers. The registered ref is then the supervisor's, which forwards to the actor
    /// (an ask while it is down fails at once with <see cref="AskFailedException"/>). Default: true
    /// for persistent actors (<c>PersistentActor</c>, <c>EventSourcedActor</c>) registered by type,
    /// false otherwise (the default supervision already restarts an actor that throws).
    /// </summary>
    public bool Restart { get; set; }

    /// <summary>The delay before the first restart; delays double up to <see cref="MaxBackoff"/>. Default 200 ms.</summary>
    public TimeSpan MinBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between restarts. Default 30 s.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Restarts in a row (without 10 s of running in between) before the supervisor gives up; -1 for no limit (the default).</summary>
    public int MaxRestarts { get; set; } = -1;

    /// <summary>
    /// The service cannot work without this actor: when it stops for good (its restarts used up, or
    /// it stopped without <see cref="Restart"/>) while the host is not stopping, the host logs it as
    /// critical, sets the process exit code to 1 and stops. Default false.
    /// </summary>
    public bool Critical { get; set; }

    internal void Validate(string name)
    {
        if (MinBackoff <= TimeSpan.Zero || MaxBackoff < MinBackoff || MaxRestarts < -1)
        {
            throw new ArgumentException(
                $"Actor '{name}': MinBackoff ({MinBackoff}) must be positive and at most MaxBackoff ({MaxBackoff}), and MaxRestarts ({MaxRestarts}) at least -1.");
        }
    }

    /// <summary>The props to spawn: <paramref name="props"/> itself, or a backoff supervisor of it.</summary>
    internal Props Apply(string name, Props props) =>
        !Restart ? props : BackoffSupervisor.Props(new BackoffOptions(props, name)
        {
            MinBackoff = MinBackoff,
            MaxBackoff = MaxBackoff,
            MaxRestarts = MaxRestarts,
            Trigger = BackoffTrigger.OnStop,
        });
}
