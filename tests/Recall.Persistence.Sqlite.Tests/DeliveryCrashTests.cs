using Recall.DurabilityProbe;
using Recall.TestKit;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>At-least-once delivery survives a crash: the sender's process dies with SIGKILL while deliveries are unconfirmed.</summary>
public sealed class DeliveryCrashTests : IDisposable
{
    private const int Count = 30;
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task After_SIGKILL_every_unconfirmed_delivery_is_delivered_and_confirmed_by_the_restarted_sender()
    {
        var lines = await ProbeProcess.RunAndKillAsync(
            ["deliver", _database.Path, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            seen => seen.Count(l => l.StartsWith("promised", StringComparison.Ordinal)) == Count);
        Assert.Equal(Count, lines.Count(l => l.StartsWith("promised", StringComparison.Ordinal)));

        await using var system = ActorSystem.Create("restart", o => o.UsePersistence(p => DeliverySender.Register(p.UseSqlite(_database.Path).Events)));
        var probe = new TestProbe(system);
        var destination = system.Spawn(Props.Create(() => new ConfirmingDestination(probe.Ref)));
        var sender = system.Spawn(Props.Create(() => new DeliverySender("sender-1", destination)));

        var received = new HashSet<int>();
        while (received.Count < Count)
        {
            received.Add((await probe.ExpectMsgAsync<Delivered>(timeout: TimeSpan.FromSeconds(15))).Number);
        }

        Assert.Equal(Enumerable.Range(1, Count), received.Order());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (await sender.Ask<int>(new CountUnconfirmed(), TimeSpan.FromSeconds(10)) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "deliveries stayed unconfirmed");
            await Task.Delay(50);
        }
    }

    private sealed class ConfirmingDestination(IActorRef observer) : Actor
    {
        protected override void Receive(object message)
        {
            if (message is Delivered delivered)
            {
                observer.Tell(delivered, null);
                Sender.Tell(new Confirmed(delivered.DeliveryId));
            }
        }
    }
}
