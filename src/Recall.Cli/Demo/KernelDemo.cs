using Microsoft.Extensions.Logging.Abstractions;
using Recall.Actors;
using Spectre.Console;

namespace Recall.Cli.Demo;

/// <summary>
/// The kernel at work: records flow pipeline → parser → pipeline → sink → ledger. The parser
/// throws on malformed records and its supervisor resumes it (the record is rejected, the
/// mailbox kept). The sink crashes when the ledger has an outage; a backoff supervisor brings it
/// back, and the pipeline re-sends every write that was not acknowledged, so nothing is lost.
/// </summary>
internal static class KernelDemo
{
    private static readonly string[] Records = ["10", "20", "x7", "5", "8", "??", "40", "17", "3"];

    public static async Task<int> RunAsync(IAnsiConsole output)
    {
        output.WriteLine("Recall kernel demo: a supervised pipeline that crashes and heals");
        output.WriteLine();
        var started = DateTime.UtcNow;
        var gate = new Lock();
        void Print(string who, string what)
        {
            lock (gate)
            {
                output.WriteLine($"  {(DateTime.UtcNow - started).TotalMilliseconds,6:0} ms  {who,-8} {what}");
            }
        }

        // The ledger stands in for a database; its writes fail at the 3rd and 5th attempt.
        var ledger = new Ledger(failingAttempts: [3, 5]);
        // The crashes are the point of this demo and it tells them itself: no log lines in between.
        await using var system = ActorSystem.Create("demo", o => o.LoggerFactory = NullLoggerFactory.Instance);
        var done = new TaskCompletionSource<(int Parsed, int Rejected)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = system.Spawn(Props.Create(() => new Pipeline(Records.Length, ledger, Print, done)), "pipeline");
        foreach (var record in Records)
        {
            pipeline.Tell(new Pipeline.Record(record), null);
        }

        var (parsed, rejected) = await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var expected = Records.Where(r => int.TryParse(r, out _)).Sum(long.Parse);
        output.WriteLine();
        output.WriteLine($"  records:  {Records.Length} sent, {parsed} parsed, {rejected} rejected by the parser");
        output.WriteLine($"  ledger:   {ledger.Count} stored, sum {ledger.Sum}; {ledger.Outages} outages crashed the sink");
        output.WriteLine($"  expected: {parsed} stored, sum {expected}");
        var healed = ledger.Sum == expected && ledger.Count == parsed;
        output.WriteLine(healed ? "  healed:   yes, every valid record stored exactly once" : "  healed:   NO");
        output.WriteLine("next: recall demo (event-sourced wallets crash and recover from their journal)");
        return healed ? 0 : 1;
    }

    /// <summary>A store that fails some write attempts, and ignores a write it already has.</summary>
    private sealed class Ledger(int[] failingAttempts)
    {
        private readonly Dictionary<int, int> _values = [];
        private int _attempts;

        public int Count { get { lock (_values) { return _values.Count; } } }

        public long Sum { get { lock (_values) { return _values.Values.Sum(v => (long)v); } } }

        public int Outages { get; private set; }

        public void Write(int sequenceNumber, int value)
        {
            lock (_values)
            {
                if (failingAttempts.Contains(++_attempts))
                {
                    Outages++;
                    throw new IOException($"ledger unavailable (write attempt {_attempts})");
                }

                _values.TryAdd(sequenceNumber, value);
            }
        }
    }

    /// <summary>Supervises the parser and the sink; re-sends writes until they are acknowledged.</summary>
    private sealed class Pipeline(int expected, Ledger ledger, Action<string, string> print, TaskCompletionSource<(int, int)> done) : Actor
    {
        private readonly Queue<Write> _unacknowledged = new();
        private IActorRef _parser = null!;
        private IActorRef _sink = null!;
        private int _seen;
        private int _parsed;
        private int _rejected;

        public sealed record Record(string Text);

        public sealed record Parsed(int Value);

        public sealed record Rejected(string Text);

        public sealed record Write(int SequenceNumber, int Value);

        public sealed record Acknowledged(int SequenceNumber);

        private sealed record Resend;

        protected override SupervisorStrategy SupervisorStrategy => new OneForOneStrategy(
            maxRetries: 10,
            withinTimeRange: TimeSpan.FromMinutes(1),
            decider: exception => exception is FormatException ? Directive.Resume : Directive.Restart);

        protected override void PreStart()
        {
            _parser = Context.Spawn(Props.Create(() => new Parser(print)), "parser");
            var backoff = new BackoffOptions(Props.Create(() => new Sink(ledger, print)), "sink")
            {
                MinBackoff = TimeSpan.FromMilliseconds(100),
                MaxBackoff = TimeSpan.FromSeconds(1),
            };
            _sink = Context.Spawn(BackoffSupervisor.Props(backoff), "sink-supervisor");
            Timers.StartPeriodicTimer("resend", new Resend(), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(250));
        }

        protected override void Receive(object message)
        {
            switch (message)
            {
                case Record record:
                    _parser.Tell(record);
                    break;
                case Parsed parsed:
                    _seen++;
                    var write = new Write(++_parsed, parsed.Value);
                    _unacknowledged.Enqueue(write);
                    _sink.Tell(write);
                    break;
                case Rejected:
                    _seen++;
                    _rejected++;
                    break;
                case Acknowledged ack:
                    while (_unacknowledged.TryPeek(out var head) && head.SequenceNumber <= ack.SequenceNumber)
                    {
                        _unacknowledged.Dequeue();
                    }

                    if (_seen == expected && _unacknowledged.Count == 0)
                    {
                        done.TrySetResult((_parsed, _rejected));
                    }

                    break;
                case Resend when _unacknowledged.Count > 0:
                    print("pipeline", $"re-sends {_unacknowledged.Count} unacknowledged write(s)");
                    foreach (var pending in _unacknowledged)
                    {
                        _sink.Tell(pending);
                    }

                    break;
                case Resend:
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }

    /// <summary>Turns text into numbers; throws on anything else.</summary>
    private sealed class Parser(Action<string, string> print) : Actor
    {
        protected override void Receive(object message)
        {
            if (message is not Pipeline.Record record)
            {
                Unhandled(message);
                return;
            }

            if (!int.TryParse(record.Text, out var value))
            {
                print("parser", $"\"{record.Text}\" is not a number: throws; supervisor resumes it");
                Sender.Tell(new Pipeline.Rejected(record.Text));
                throw new FormatException($"'{record.Text}' is not a number");
            }

            print("parser", $"\"{record.Text}\" -> {value}");
            Sender.Tell(new Pipeline.Parsed(value));
        }
    }

    /// <summary>Writes to the ledger and acknowledges; a ledger outage crashes it.</summary>
    private sealed class Sink(Ledger ledger, Action<string, string> print) : Actor
    {
        protected override void PreStart() => print("sink", $"started as {Self.Path.ToStringWithoutAddress()}");

        protected override void Receive(object message)
        {
            if (message is not Pipeline.Write write)
            {
                Unhandled(message);
                return;
            }

            try
            {
                ledger.Write(write.SequenceNumber, write.Value);
            }
            catch (IOException exception)
            {
                print("sink", $"write #{write.SequenceNumber} failed ({exception.Message}): crashes and stops");
                throw;
            }

            print("sink", $"write #{write.SequenceNumber} = {write.Value} stored");
            Sender.Tell(new Pipeline.Acknowledged(write.SequenceNumber));
        }
    }
}
