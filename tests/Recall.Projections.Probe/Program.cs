// A projection for the crash test: runs an exactly-once SQLite projection of COUNT synthetic events
// into FILE, printing "batch FIRST LAST" when a batch starts and "applied N" after each row it
// inserted (inside the batch's transaction). After inserting the row of event STUCK it prints
// "stuck N" and hangs inside the transaction; the test then kills it with SIGKILL.
using System.Globalization;
using Recall.Actors;
using Recall.Projections;
using Recall.Projections.Probe;

if (args is not [var path, var countText, var stuckText])
{
    Console.Error.WriteLine("usage: Recall.Projections.Probe FILE COUNT STUCK");
    return 2;
}

var count = int.Parse(countText, CultureInfo.InvariantCulture);
var stuck = long.Parse(stuckText, CultureInfo.InvariantCulture);
await using var system = ActorSystem.Create("probe", o => o.UseProjections());
system.Projections().Start(CrashProjection.Create(path, count, (first, last) => Print($"batch {first} {last}"), n =>
{
    Print($"applied {n}");
    if (n == stuck)
    {
        Print($"stuck {n}");
        Thread.Sleep(Timeout.Infinite);
    }
}));
await Task.Delay(Timeout.Infinite);
return 0;

static void Print(string line)
{
    lock (Console.Out)
    {
        Console.Out.WriteLine(line);
        Console.Out.Flush();
    }
}
