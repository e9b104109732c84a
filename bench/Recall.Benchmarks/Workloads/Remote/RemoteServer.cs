using System.Globalization;
using Recall.Actors;
using Recall.Remoting;

namespace Recall.Benchmarks.Workloads.Remote;

/// <summary>
/// The server node of the remote workloads: this program started by the driver as
/// <c>dotnet Recall.Benchmarks.dll --role server --port P [--serializer binary|json]
/// [--remote-queue-capacity N]</c>. It listens on 127.0.0.1:P, hosts <c>echo-0..15</c> (each
/// sends a Ping back to its sender) and <c>sink-0..15</c> (each counts Pings and answers a Flush
/// with its count), prints <c>@@READY &lt;address&gt;</c> and then takes commands on stdin, one
/// per line: <c>gc</c> (a full blocking GC, answered <c>@@GC</c>), <c>stats</c> (answered
/// <c>@@STATS &lt;dead letters&gt; &lt;actor failures&gt; &lt;Pings the echo actors sent back&gt;</c>),
/// <c>quit</c> (or end of input: stop).
/// Nothing else is written to stdout; errors go to stderr.
/// </summary>
internal static class RemoteServer
{
    public const string Ready = "@@READY";
    public const int Actors = 16;

    /// <summary>Whether the arguments ask for a role other than the harness (<c>--role ...</c>).</summary>
    public static bool IsRequested(string[] args) => args.Contains("--role", StringComparer.Ordinal);

    /// <summary>Runs the server until <c>quit</c> or the end of stdin, on the calling thread (stdin is read synchronously, never on a pool thread).</summary>
    public static int Run(string[] args)
    {
        int port = -1;
        var serializer = "binary";
        var capacity = BenchOptions.DefaultRemoteQueueCapacity;
        string? role = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--role":
                    role = args[i + 1];
                    break;
                case "--port":
                    port = int.Parse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                case "--serializer":
                    serializer = args[i + 1];
                    break;
                case "--remote-queue-capacity":
                    capacity = int.Parse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'");
                    return 2;
            }
        }

        if (role != "server" || port is < 1 or > 65535 || args.Length % 2 != 0)
        {
            Console.Error.WriteLine("usage: --role server --port P [--serializer binary|json] [--remote-queue-capacity N]");
            return 2;
        }

        var failures = new FailureLog();
        var echoed = new long[Actors];
        var system = ActorSystem.Create("server", o => o.UseRemoting(r =>
        {
            r.Listen("127.0.0.1", port);
            r.Serialization = RemoteSerialization.Create(serializer);
            r.OutboundQueueCapacity = capacity;
        }));
        try
        {
            for (var i = 0; i < Actors; i++)
            {
                var index = i;
                system.Spawn(Props.Create(() => new Echo(echoed, index, failures)), $"echo-{i}");
                system.Spawn(Props.Create(() => new Sink(failures)), $"sink-{i}");
            }

            Console.Out.WriteLine($"{Ready} {system.Remoting().Address}");
            Console.Out.Flush();
            while (Console.In.ReadLine() is { } line)
            {
                switch (line.Trim())
                {
                    case "gc":
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                        GC.Collect();
                        Console.Out.WriteLine("@@GC");
                        break;
                    case "stats":
                        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"@@STATS {system.DeadLetterCount} {failures.Count} {Enumerable.Range(0, Actors).Sum(a => Volatile.Read(ref echoed[a]))}"));
                        if (failures.First is { } first)
                        {
                            Console.Error.WriteLine("first actor failure: " + first);
                        }

                        break;
                    case "quit":
                        return 0;
                    case "":
                        break;
                    default:
                        Console.Error.WriteLine($"unknown command '{line}'");
                        break;
                }

                Console.Out.Flush();
            }

            return 0;
        }
        finally
        {
            system.TerminateAsync().Wait(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Sends every Ping back to its sender, and counts them (so the driver can tell that the echo actors, not anything else, answered).</summary>
    private sealed class Echo(long[] echoed, int index, FailureLog failures) : CheckedActor(failures)
    {
        protected override void Receive(object message)
        {
            if (message is Ping)
            {
                // counted before the reply leaves, so the driver's stats after the last reply include it
                Volatile.Write(ref echoed[index], echoed[index] + 1);
                Sender.Tell(message, Self);
            }
            else
            {
                Unhandled(message);
            }
        }
    }

    /// <summary>Counts Pings and checks they come in sequence (0, 1, 2, ...); answers Flush with the count and starts over.</summary>
    private sealed class Sink(FailureLog failures) : CheckedActor(failures)
    {
        private int _count;
        private int _outOfOrder;

        protected override void Receive(object message)
        {
            switch (message)
            {
                case Ping ping:
                    if (ping.N != _count || ping.S != Ping.Text)
                    {
                        _outOfOrder++;
                    }

                    _count++;
                    break;
                case Flush:
                    Sender.Tell(new FlushAck(_count, _outOfOrder), Self);
                    _count = 0;
                    _outOfOrder = 0;
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}
