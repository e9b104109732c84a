using Recall.TestKit;

namespace Recall.Actors.Tests;

/// <summary>Polling for conditions that no message announces (counters, logs).</summary>
internal static class Eventually
{
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestKitSettings.DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(10);
        }
    }

    public static async Task TrueAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestKitSettings.DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(10);
        }
    }
}

/// <summary>Asks a <see cref="Parent"/> to spawn a child; the reply is the child's ref.</summary>
public sealed record SpawnChild(Props Props, string? Name = null);

/// <summary>
/// Makes the receiving actor run an async handler that waits for <paramref name="Gate"/>: until
/// the gate completes, the actor's user messages stay queued. Lets a test fill a mailbox before
/// the actor looks at it. <paramref name="Ack"/>, if given, gets "holding" first.
/// </summary>
public sealed record Hold(Task Gate, IActorRef? Ack = null);

/// <summary>Test helpers for actors.</summary>
public static class ActorTestExtensions
{
    /// <summary>Spawns a child of a <see cref="Parent"/> and returns its ref.</summary>
    public static Task<IActorRef> SpawnChildAsync(this IActorRef parent, Props props, string? name = null) =>
        parent.Ask<IActorRef>(new SpawnChild(props, name), TimeSpan.FromSeconds(10));
}

/// <summary>An actor that spawns children on request and supervises them with the given strategy.</summary>
public sealed class Parent(SupervisorStrategy strategy) : Actor
{
    protected override SupervisorStrategy SupervisorStrategy => strategy;

    protected override void Receive(object message)
    {
        if (message is SpawnChild spawn)
        {
            try
            {
                Sender.Tell(Context.Spawn(spawn.Props, spawn.Name), Self);
            }
            catch (InvalidActorNameException error)
            {
                Sender.Tell(new Status.Failure(error), Self);
            }
        }
        else
        {
            Unhandled(message);
        }
    }
}

/// <summary>A supervisor strategy that reports every failure to a probe, then applies the directive.</summary>
public static class Strategies
{
    public static SupervisorStrategy Reporting(IActorRef reportTo, Directive directive) =>
        new OneForOneStrategy(cause =>
        {
            reportTo.Tell(cause, null);
            return directive;
        });

    public static SupervisorStrategy ReportingDefault(IActorRef reportTo) =>
        new OneForOneStrategy(cause =>
        {
            reportTo.Tell(cause, null);
            return SupervisorStrategy.DefaultDecider(cause);
        });
}

/// <summary>A gate a test opens to release a held actor.</summary>
public sealed class Gate
{
    private readonly TaskCompletionSource _source = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Task => _source.Task;

    public void Open() => _source.TrySetResult();
}

/// <summary>A base for test actors that understand <see cref="Hold"/>.</summary>
public abstract class HoldableActor : Actor
{
    /// <summary>Handles <see cref="Hold"/> by suspending user messages until the gate opens; false for other messages.</summary>
    protected bool TryHold(object message)
    {
        if (message is not Hold hold)
        {
            return false;
        }

        hold.Ack?.Tell("holding", Self);
        RunTask(() => hold.Gate);
        return true;
    }
}

/// <summary>Tests that load every core run in this collection: alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressTests
{
    public const string Name = "Stress";
}
