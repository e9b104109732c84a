using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Recall.Diagnostics;

namespace Recall.Actors.Internal;

/// <summary>
/// The instruments of the <see cref="RecallDiagnostics.ActorsMeterName"/> meter. All are
/// observable: their callbacks run only when a listener collects, so sending a message costs
/// nothing extra whether anyone listens or not. Each callback reports one value per live actor
/// system, tagged with its name.
/// </summary>
internal static class ActorMetrics
{
    // Systems that a test or an application forgot to terminate must stay collectable.
    private static readonly ConditionalWeakTable<ActorSystem, object?> s_systems = [];

    private static readonly Meter s_meter = new(RecallDiagnostics.ActorsMeterName);

    static ActorMetrics()
    {
        s_meter.CreateObservableGauge(
            "recall.actor.mailbox.depth",
            () => Observe(static system => system.CountMailboxDepth()),
            unit: "{message}",
            description: "User messages waiting in the mailboxes of all actors of the system (approximate: read without stopping them).");
        s_meter.CreateObservableCounter(
            "recall.actor.dead_letters",
            () => Observe(static system => system.DeadLetterCount),
            unit: "{message}",
            description: "Messages that could not be delivered since the system started.");
    }

    /// <summary>Reports <paramref name="system"/> until it has terminated.</summary>
    public static void Track(ActorSystem system) => s_systems.AddOrUpdate(system, null);

    public static void Untrack(ActorSystem system) => s_systems.Remove(system);

    private static List<Measurement<long>> Observe(Func<ActorSystem, long> read)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (system, _) in s_systems)
        {
            measurements.Add(new Measurement<long>(read(system), new KeyValuePair<string, object?>(RecallDiagnostics.ActorSystemTag, system.Name)));
        }

        return measurements;
    }
}
