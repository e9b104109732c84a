using System.Globalization;
using Recall.Actors;
using Recall.Persistence.Serialization;
using Recall.Remoting;
using Recall.Remoting.TestNode;

// A node in its own process, for tests that kill or restart it:
//   Recall.Remoting.TestNode <system name> <port>
// It hosts /user/echo and /user/sink, prints "@@READY <address> <incarnation>", and stops on "quit" or end of input.
if (args.Length != 2 || !int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
{
    Console.Error.WriteLine("usage: Recall.Remoting.TestNode <system name> <port>");
    return 2;
}

var serialization = new EventSerialization();
serialization.Registry.RegisterAssemblyOf<Ping>();
await using var system = ActorSystem.Create(args[0], o => o.UseRemoting(r =>
{
    r.Listen("127.0.0.1", port);
    r.Serialization = serialization;
}));
system.Spawn(Props.Create(() => new Echo()), "echo");
system.Spawn(Props.Create(() => new Sink()), "sink");
Console.WriteLine($"@@READY {system.Address} {system.Remoting().Incarnation}");
while (Console.ReadLine() is { } line && line != "quit")
{
}

return 0;
