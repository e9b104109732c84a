using System.Diagnostics;
using System.Globalization;
using Recall.Actors;
using Recall.Benchmarks.Workloads.Persistence;

namespace Recall.Benchmarks.Workloads.Remote;

/// <summary>
/// A workload between two processes on 127.0.0.1, defined as in the remote-messaging reference programs (Akka.NET, Proto.Actor): the
/// server node is a child process (<see cref="RemoteServer"/>) started once per workload with the
/// client node (<see cref="RemoteSession"/>), untimed; the warm-up and the measured runs share
/// both. Before each run both processes run a full GC. Each run spawns fresh client actors and
/// times from the first Start (or ask) until the last completion is back. Every run also records
/// the 1-minute load average at its start and the CPU time both processes used in the timed
/// region (<c>cpu_us_per_msg</c>), and checks that neither node had dead letters or actor failures
/// and that the server's echo actors sent back exactly the Pings the run expects.
/// Opt-in: they run only when named (<c>--workload remote-pingpong,remote-oneway,remote-ask-latency</c>).
/// </summary>
internal abstract class RemoteWorkload(BenchOptions options) : IWorkload
{
    protected static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(5);
    private RemoteSession? _session;
    private int _runs;

    public abstract string Name { get; }

    public virtual string Key => Name;

    public bool OptIn => true;

    public IReadOnlyList<string> Stores { get; } = ["none"];

    public abstract long N { get; }

    public virtual IReadOnlyDictionary<string, double>? Fixed => null;

    /// <summary>What per_sec counts, for the line's <c>extra.rate_unit</c>.</summary>
    protected abstract string RateUnit { get; }

    /// <summary>How many Pings the server's echo actors must send back in one run.</summary>
    protected abstract long ExpectedEchoes { get; }

    public async Task PrepareAsync(RunContext context)
    {
        await CleanUpAsync(context.Store);
        _session = await RemoteSession.StartAsync(options, context.Log);
    }

    public async Task<RunResult> RunAsync(RunContext context)
    {
        var session = _session ?? throw new InvalidOperationException("PrepareAsync did not start the session");
        await session.CollectServerGarbageAsync();
        var before = await session.ServerStatsAsync();
        var clientDeadLetters = session.System.DeadLetterCount;
        var load = LoadAverage1m();
        var clock = new TwoProcessClock(session);
        var figures = await MeasureAsync(session, clock, ++_runs, clientDeadLetters);
        Check.That(clock.IsStopped, "the workload did not stop its clock");

        var after = await session.ServerStatsAsync();
        Check.That(session.System.DeadLetterCount == clientDeadLetters, $"{session.System.DeadLetterCount - clientDeadLetters} dead letters in the client node ({session.DeadLetterReasons()})");
        Check.That(after.DeadLetters == before.DeadLetters, $"{after.DeadLetters - before.DeadLetters} dead letters in the server node");
        Check.That(after.Failures == before.Failures, $"{after.Failures - before.Failures} actor failures in the server node (first on its stderr)");
        // an echoed Ping that reached its sender some other way than through an echo actor would pass the reply checks
        Check.That(after.Echoed - before.Echoed == ExpectedEchoes, $"the server's echo actors sent back {after.Echoed - before.Echoed} Pings, expected {ExpectedEchoes}");

        var extra = new Dictionary<string, double>(figures)
        {
            ["loadavg_1m"] = load,
            ["client_cpu_s"] = clock.ClientCpu.TotalSeconds,
            ["server_cpu_s"] = clock.ServerCpu.TotalSeconds,
            ["cpu_us_per_msg"] = (clock.ClientCpu + clock.ServerCpu).TotalMicroseconds / N,
        };
        return new RunResult(clock.Elapsed, extra);
    }

    public IReadOnlyDictionary<string, object>? LineFields() => new Dictionary<string, object>
    {
        ["rate_unit"] = RateUnit,
        ["settings"] = _session?.Settings ?? new Dictionary<string, object>(),
    };

    public async Task CleanUpAsync(string store)
    {
        if (_session is { } session)
        {
            _session = null;
            await session.DisposeAsync();
        }
    }

    /// <summary>
    /// One run: spawn the client actors (untimed), start the clock, do the work, stop the clock,
    /// check; returns the workload's own figures. <paramref name="deadLetters"/> is the client
    /// node's dead-letter count before the run (a wait fails as soon as it grows).
    /// </summary>
    protected abstract Task<IReadOnlyDictionary<string, double>> MeasureAsync(RemoteSession session, TwoProcessClock clock, int run, long deadLetters);

    /// <summary>The 1-minute load average now, or -1 where there is none.</summary>
    private static double LoadAverage1m() =>
        double.TryParse(Runner.LoadAverage().Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var load) ? load : -1;
}

/// <summary>The timed region of a remote run: wall time, and the CPU time of this process and of the server process.</summary>
internal sealed class TwoProcessClock(RemoteSession session)
{
    private readonly Stopwatch _wall = new();
    private TimeSpan _client;
    private TimeSpan _server;

    public TimeSpan Elapsed => _wall.Elapsed;

    public TimeSpan ClientCpu { get; private set; }

    public TimeSpan ServerCpu { get; private set; }

    public bool IsStopped { get; private set; }

    public void Start()
    {
        _client = OwnCpu();
        _server = session.ServerCpu();
        _wall.Start();
    }

    public void Stop()
    {
        _wall.Stop();
        ClientCpu = OwnCpu() - _client;
        ServerCpu = session.ServerCpu() - _server;
        IsStopped = true;
    }

    private static TimeSpan OwnCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }
}

/// <summary>
/// remote-pingpong: P client actors (P = 1 or 16) each send Ping(i) to their own remote echo
/// actor (echo-0..P-1) and wait for it to come back before sending Ping(i+1): 50,000 round trips
/// for P = 1, 12,500 per actor for P = 16. n counts messages (request + reply = 2 per round
/// trip). Checks: every reply carries the expected sequence number and text, and each actor got
/// exactly its round trips.
/// </summary>
internal sealed class RemotePingPong(BenchOptions options, int pairs) : RemoteWorkload(options)
{
    private readonly int _roundTrips = Math.Max(1, (pairs == 1 ? 50_000 : 200_000 / pairs) / options.ScaleDown);

    public override string Name => "remote-pingpong";

    public override string Key => $"remote-pingpong:p{pairs}";

    public override long N => 2L * pairs * _roundTrips;

    public override IReadOnlyDictionary<string, double> Fixed { get; } = new Dictionary<string, double> { ["pairs"] = pairs };

    protected override string RateUnit => "messages/s";

    protected override long ExpectedEchoes => (long)pairs * _roundTrips;

    protected override async Task<IReadOnlyDictionary<string, double>> MeasureAsync(RemoteSession session, TwoProcessClock clock, int run, long deadLetters)
    {
        var failures = new FailureLog();
        var done = new Countdown(pairs);
        var results = new PairResult[pairs];
        var clients = new IActorRef[pairs];
        for (var i = 0; i < pairs; i++)
        {
            var (echo, result) = (session.Echoes[i], results[i] = new PairResult());
            clients[i] = session.System.Spawn(Props.Create(() => new PingPongClient(echo, _roundTrips, result, done, failures)), $"pingpong-{run}-{i}");
        }

        clock.Start();
        foreach (var client in clients)
        {
            client.Tell(Start.Instance, null);
        }

        await session.WithinAsync(done.Done, deadLetters, RunTimeout, $"{pairs} x {_roundTrips} round trips");
        clock.Stop();

        foreach (var client in clients)
        {
            session.System.Stop(client);
        }

        failures.CheckNone();
        for (var i = 0; i < pairs; i++)
        {
            var (verified, wrong) = (Volatile.Read(ref results[i].Verified), Volatile.Read(ref results[i].Wrong));
            Check.That(verified == _roundTrips && wrong == 0, $"client {i} got {verified} right replies and {wrong} wrong ones; expected {_roundTrips} and none");
        }

        var roundTrips = (long)pairs * _roundTrips;
        return new Dictionary<string, double>
        {
            ["round_trips"] = roundTrips,
            ["round_trips_per_sec"] = roundTrips / clock.Elapsed.TotalSeconds,
            ["verified_replies_per_actor"] = results.Min(r => Volatile.Read(ref r.Verified)),
        };
    }

    /// <summary>What one client actor saw (written by it alone; read after it signalled the countdown).</summary>
    private sealed class PairResult
    {
        public int Verified;
        public int Wrong;
    }

    /// <summary>Sends Ping(0), and on each echo checks it and sends the next until it has all its round trips.</summary>
    private sealed class PingPongClient(IActorRef echo, int roundTrips, PairResult result, Countdown done, FailureLog failures) : CheckedActor(failures)
    {
        private int _next;

        protected override void Receive(object message)
        {
            switch (message)
            {
                case Start:
                    echo.Tell(new Ping(0, Ping.Text), Self);
                    break;
                case Ping reply:
                    if (reply.N == _next && reply.S == Ping.Text)
                    {
                        Volatile.Write(ref result.Verified, result.Verified + 1);
                    }
                    else
                    {
                        Volatile.Write(ref result.Wrong, result.Wrong + 1);
                    }

                    if (++_next == roundTrips)
                    {
                        done.Signal();
                    }
                    else if (_next < roundTrips)
                    {
                        echo.Tell(new Ping(_next, Ping.Text), Self);
                    }

                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}

/// <summary>
/// remote-oneway: 16 client actors each send 25,000 Pings (sequence 0, 1, 2, ...) to their own
/// remote sink (sink-0..15) in a loop without waiting, then a Flush; the sink answers Flush with
/// its count. Timed until all 16 FlushAcks are back; n counts the Pings (Flush and FlushAck not
/// counted). Checks: each sink counted exactly 25,000 and saw them in sequence (out_of_order = 0).
/// </summary>
internal sealed class RemoteOneWay(BenchOptions options) : RemoteWorkload(options)
{
    private const int Senders = 16;
    private readonly int _perSender = Math.Max(1, 25_000 / options.ScaleDown);

    public override string Name => "remote-oneway";

    public override long N => (long)Senders * _perSender;

    public override IReadOnlyDictionary<string, double> Fixed { get; } = new Dictionary<string, double> { ["senders"] = Senders };

    protected override string RateUnit => "messages/s";

    protected override long ExpectedEchoes => 0;

    protected override async Task<IReadOnlyDictionary<string, double>> MeasureAsync(RemoteSession session, TwoProcessClock clock, int run, long deadLetters)
    {
        var failures = new FailureLog();
        var done = new Countdown(Senders);
        var acks = new FlushAck?[Senders];
        var senders = new IActorRef[Senders];
        for (var i = 0; i < Senders; i++)
        {
            var (sink, index) = (session.Sinks[i], i);
            senders[i] = session.System.Spawn(Props.Create(() => new OneWaySender(sink, _perSender, acks, index, done, failures)), $"oneway-{run}-{i}");
        }

        clock.Start();
        foreach (var sender in senders)
        {
            sender.Tell(Start.Instance, null);
        }

        await session.WithinAsync(done.Done, deadLetters, RunTimeout, $"{Senders} FlushAcks after {Senders} x {_perSender} one-way messages");
        clock.Stop();

        foreach (var sender in senders)
        {
            session.System.Stop(sender);
        }

        failures.CheckNone();
        long counted = 0, outOfOrder = 0;
        for (var i = 0; i < Senders; i++)
        {
            var ack = Volatile.Read(ref acks[i]);
            Check.That(ack is not null && ack.Count == _perSender && ack.OutOfOrder == 0,
                $"sink-{i} counted {ack?.Count} messages, {ack?.OutOfOrder} out of order; expected {_perSender} in order");
            counted += ack!.Count;
            outOfOrder += ack.OutOfOrder;
        }

        return new Dictionary<string, double>
        {
            ["messages_per_sender"] = _perSender,
            ["verified_sink_count"] = counted,
            ["out_of_order"] = outOfOrder,
        };
    }

    /// <summary>On Start sends its Pings and a Flush to its sink; records the sink's FlushAck.</summary>
    private sealed class OneWaySender(IActorRef sink, int count, FlushAck?[] acks, int index, Countdown done, FailureLog failures) : CheckedActor(failures)
    {
        protected override void Receive(object message)
        {
            switch (message)
            {
                case Start:
                    for (var i = 0; i < count; i++)
                    {
                        sink.Tell(new Ping(i, Ping.Text), Self);
                    }

                    sink.Tell(Flush.Instance, Self);
                    break;
                case FlushAck ack:
                    Volatile.Write(ref acks[index], ack);
                    done.Signal();
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }
}

/// <summary>
/// remote-ask-latency: 10,000 sequential asks from the driver (outside any actor) to one remote
/// echo actor, <c>echo.Ask&lt;Ping&gt;(Ping(i), 10 s)</c>, each timed on its own. per_sec = asks/s;
/// <c>extra</c> has p50, p90, p99 (nearest rank), max and mean in microseconds. Checks: each reply
/// echoes its own sequence number and text.
/// </summary>
internal sealed class RemoteAskLatency(BenchOptions options) : RemoteWorkload(options)
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);
    private readonly int _asks = Math.Max(1, 10_000 / options.ScaleDown);

    public override string Name => "remote-ask-latency";

    public override long N => _asks;

    protected override string RateUnit => "asks/s";

    protected override long ExpectedEchoes => _asks;

    protected override async Task<IReadOnlyDictionary<string, double>> MeasureAsync(RemoteSession session, TwoProcessClock clock, int run, long deadLetters)
    {
        var echo = session.Echoes[0];
        var latencies = new double[_asks];
        var wrong = 0;
        clock.Start();
        for (var i = 0; i < _asks; i++)
        {
            var sent = Stopwatch.GetTimestamp();
            var reply = await echo.Ask<Ping>(new Ping(i, Ping.Text), AskTimeout);
            latencies[i] = Stopwatch.GetElapsedTime(sent).TotalMicroseconds;
            if (reply.N != i || reply.S != Ping.Text)
            {
                wrong++;
            }
        }

        clock.Stop();
        Check.That(wrong == 0, $"{wrong} of {_asks} replies did not echo their ask");
        var mean = latencies.Average();
        Array.Sort(latencies);
        return new Dictionary<string, double>
        {
            ["p50_us"] = Percentile(latencies, 0.50),
            ["p90_us"] = Percentile(latencies, 0.90),
            ["p99_us"] = Percentile(latencies, 0.99),
            ["max_us"] = latencies[^1],
            ["mean_us"] = mean,
            ["verified_replies"] = _asks - wrong,
        };
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
}
