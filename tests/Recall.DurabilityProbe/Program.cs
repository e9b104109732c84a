// A writer for the durability test: persists events as fast as it can, keeping many commands in
// flight, and prints "ack <sequence number> <value>" for every event whose handler ran (that is,
// every event the store acknowledged as durable). The test kills it with SIGKILL at a random moment.
using Recall.Actors;
using Recall.DurabilityProbe;
using Recall.Persistence;
using Recall.Persistence.Serialization;
using Recall.Persistence.Sqlite;

if (args is ["deliver", var deliveryDatabase, var count])
{
    // The delivery crash test: promise COUNT messages to a destination that never confirms,
    // print "promised N" for each stored promise, then wait to be killed.
    await using var deliverySystem = ActorSystem.Create("probe", o => o.UsePersistence(p => DeliverySender.Register(p.UseSqlite(deliveryDatabase).Events)));
    var silent = deliverySystem.Spawn(Props.Create(() => new SilentDestination()), "destination");
    var sender = deliverySystem.Spawn(Props.Create(() => new DeliverySender("sender-1", silent, n =>
    {
        lock (Console.Out)
        {
            Console.Out.WriteLine($"promised {n}");
            Console.Out.Flush();
        }
    })), "sender");
    for (var n = 1; n <= int.Parse(count, System.Globalization.CultureInfo.InvariantCulture); n++)
    {
        sender.Tell(new Promise(n), null);
    }

    await Task.Delay(Timeout.Infinite);
    return 0;
}

if (args is ["tagged", var taggedDatabase, var taggedId, var tag, var before, var after, var goFile])
{
    // The read-side test: persist BEFORE events tagged TAG, wait until GO-FILE exists (the reader
    // in the test process has seen them), persist AFTER more, print "written N", wait to be killed.
    await using var taggedSystem = ActorSystem.Create("probe", o => o.UsePersistence(p => p.UseSqlite(taggedDatabase).Events.Register<Added>("probe.added.v1")));
    var writer = taggedSystem.Spawn(Props.Create(() => new TaggedWriter(taggedId, tag)), "writer");
    var total = int.Parse(before, System.Globalization.CultureInfo.InvariantCulture) + int.Parse(after, System.Globalization.CultureInfo.InvariantCulture);
    for (var n = 1; n <= total; n++)
    {
        if (n == int.Parse(before, System.Globalization.CultureInfo.InvariantCulture) + 1)
        {
            while (!File.Exists(goFile))
            {
                await Task.Delay(20);
            }
        }

        await writer.Ask<long>(new Add(n), TimeSpan.FromSeconds(30));
    }

    Console.Out.WriteLine($"written {total}");
    Console.Out.Flush();
    await Task.Delay(Timeout.Infinite);
    return 0;
}

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: Recall.DurabilityProbe <database file> <persistence id> | deliver <database file> <count> | tagged <database file> <persistence id> <tag> <before> <after> <go file>");
    return 2;
}

var (path, persistenceId) = (args[0], args[1]);
await using var system = ActorSystem.Create("probe", o => o.UsePersistence(p => p.UseSqlite(path).Events.Register<Added>("probe.added.v1")));
var output = Console.Out;
var counter = system.Spawn(Props.Create(() => new Counter(persistenceId, output)), "counter");
var start = await counter.Ask<long>(new GetHighest(), TimeSpan.FromSeconds(30));
Console.Out.WriteLine($"ready {start}");
Console.Out.Flush();

// Keep up to 64 commands in flight: acknowledgements arrive while later commands wait, so a kill
// always lands between, or during, writes.
using var inFlight = new SemaphoreSlim(64);
var value = 0;
while (true)
{
    await inFlight.WaitAsync();
    value++;
    _ = counter.Ask<long>(new Add(value), TimeSpan.FromMinutes(5)).ContinueWith(_ => inFlight.Release(), TaskScheduler.Default);
}

internal sealed record Add(int Value);

internal sealed record GetHighest;

internal sealed record Added(int Value);

internal sealed class Counter(string id, TextWriter output) : PersistentActor
{
    public override string PersistenceId => id;

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Add add:
                PersistAsync(new Added(add.Value), e =>
                {
                    lock (output)
                    {
                        output.WriteLine($"ack {LastSequenceNumber} {e.Value}");
                        output.Flush();
                    }

                    Sender.Tell(LastSequenceNumber);
                });
                break;
            case GetHighest:
                Sender.Tell(LastSequenceNumber);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    protected override void ReceiveRecover(object message)
    {
    }
}

internal sealed class TaggedWriter(string id, string tag) : PersistentActor
{
    public override string PersistenceId => id;

    protected override void ReceiveCommand(object command)
    {
        if (command is Add add)
        {
            Persist(new Tagged(new Added(add.Value), tag), _ => Sender.Tell(LastSequenceNumber));
        }
        else
        {
            Unhandled(command);
        }
    }

    protected override void ReceiveRecover(object message)
    {
    }
}
