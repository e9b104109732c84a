using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using Recall.TestKit;
using Xunit.Abstractions;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>The tests that stop the server run alone, after every other test of the assembly.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerRestarts
{
    public const string Name = "server restarts";
}

/// <summary>
/// PostgreSQL crashes (immediate stop) and comes back while actors persist: the persists in flight
/// fail and their actors stop, BackoffSupervisor starts them again, writes resume once the server
/// is back, and every acknowledged event is in the journal.
/// </summary>
[RequiresPostgres(ServerControl = true)]
[Collection(ServerRestarts.Name)]
public sealed class ConnectionLossTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Counters = ["counter-1", "counter-2", "counter-3", "counter-4"];
    private readonly string _schema = PostgresServer.NewSchema("restart");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => PostgresServer.DropSchemaAsync(_schema);

    [Fact]
    public async Task A_server_crash_fails_the_persists_in_flight_writes_resume_after_it_and_nothing_acknowledged_is_lost()
    {
        var failures = new ConcurrentQueue<string>();
        var acknowledged = new ConcurrentDictionary<(string Id, long SequenceNumber), int>();
        var afterRestart = new ConcurrentDictionary<string, int>();
        var serverBack = false;
        using var stop = new CancellationTokenSource();

        await using var system = ActorSystem.Create("restart", o => o.UsePersistence(p =>
        {
            p.UsePostgreSql(s =>
            {
                s.ConnectionString = new NpgsqlConnectionStringBuilder(PostgresServer.Required) { Timeout = 3 }.ConnectionString;
                s.Schema = _schema;
                s.MaxReadConnections = 4;
                s.MaxWriteConnections = 2;
            });
            p.Events.Register<Counter.Added>("test.added.v1");
            p.JournalCallTimeout = TimeSpan.FromSeconds(5);
            p.RecoveryEventTimeout = TimeSpan.FromSeconds(5);
            p.CircuitBreakerResetTimeout = TimeSpan.FromMilliseconds(500);
        }));

        var supervisors = Counters.Select(id => system.Spawn(
            BackoffSupervisor.Props(new BackoffOptions(Props.Create(() => new Counter(id, failures)), id)
            {
                MinBackoff = TimeSpan.FromMilliseconds(100),
                MaxBackoff = TimeSpan.FromMilliseconds(800),
            }),
            $"supervisor-{id}")).ToArray();

        // One driver per counter: a command at a time, each acknowledged (or not) before the next.
        var drivers = supervisors.Select((supervisor, index) => Task.Run(async () =>
        {
            var value = index * 1_000_000;
            while (!stop.IsCancellationRequested)
            {
                value++;
                try
                {
                    var ack = await supervisor.Ask<Counter.Acknowledged>(new Counter.Add(value), TimeSpan.FromSeconds(2));
                    Assert.True(acknowledged.TryAdd((ack.Id, ack.SequenceNumber), ack.Value), $"{ack.Id} acknowledged {ack.SequenceNumber} twice");
                    if (Volatile.Read(ref serverBack))
                    {
                        afterRestart.AddOrUpdate(ack.Id, 1, (_, n) => n + 1);
                    }
                }
                catch (Exception exception) when (exception is TimeoutException or AskFailedException)
                {
                    // the counter is down (stopped, backing off, or recovering while the server is down)
                }
            }
        })).ToArray();

        await WaitUntilAsync(() => Counters.All(id => acknowledged.Keys.Count(k => k.Id == id) >= 5), TimeSpan.FromSeconds(20), "every counter persists before the crash");
        var beforeCrash = acknowledged.Count;

        var clock = Stopwatch.StartNew();
        await PostgresServer.CrashAndRestartAsync(TimeSpan.FromSeconds(1.5));
        var restarted = clock.Elapsed;
        Volatile.Write(ref serverBack, true);

        await WaitUntilAsync(() => Counters.All(id => afterRestart.GetValueOrDefault(id) >= 5), TimeSpan.FromSeconds(30), "every counter persists again after the server came back");
        output.WriteLine($"{beforeCrash} events acknowledged before the crash; server down and up again in {restarted.TotalSeconds:0.0} s; every counter wrote 5 more {clock.Elapsed.TotalSeconds:0.0} s after the crash");
        await stop.CancelAsync();
        await Task.WhenAll(drivers);

        foreach (var failure in failures.Take(12))
        {
            output.WriteLine(failure);
        }

        Assert.Contains(failures, failure => failure.StartsWith("persist", StringComparison.Ordinal));
        Assert.True(acknowledged.Count > beforeCrash);

        // Every acknowledged event is stored with its value; each history is contiguous from 1
        // (an event whose commit was in doubt is there or not, and the next writer goes on from it).
        var stored = await StoredAsync();
        foreach (var ((id, sequenceNumber), value) in acknowledged)
        {
            Assert.True(stored.TryGetValue((id, sequenceNumber), out var storedValue), $"acknowledged event {sequenceNumber} of {id} is missing after the crash");
            Assert.Equal(value, storedValue);
        }

        foreach (var id in Counters)
        {
            var numbers = stored.Keys.Where(k => k.Id == id).Select(k => k.SequenceNumber).Order().ToArray();
            Assert.Equal(Enumerable.Range(1, numbers.Length).Select(n => (long)n), numbers);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TestKitSettings.Dilated(timeout))
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting until {what}.");
            }

            await Task.Delay(50);
        }
    }

    private async Task<Dictionary<(string Id, long SequenceNumber), int>> StoredAsync()
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT persistence_id, sequence_number, (convert_from(payload, 'UTF8')::jsonb ->> 'Value')::int FROM \"{_schema}\".journal", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<(string, long), int>();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetString(0), reader.GetInt64(1)), reader.GetInt32(2));
        }

        return stored;
    }

    /// <summary>Persists each value and acknowledges it from the event handler, that is after the journal stored it.</summary>
    private sealed class Counter(string id, ConcurrentQueue<string> failures) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is Add add)
            {
                Persist(new Added(add.Value), e => Sender.Tell(new Acknowledged(id, LastSequenceNumber, e.Value)));
            }
            else
            {
                Unhandled(command);
            }
        }

        protected override void ReceiveRecover(object message)
        {
        }

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNumber)
        {
            failures.Enqueue($"persist {id} {sequenceNumber}: {cause.Message}");
            base.OnPersistFailure(cause, @event, sequenceNumber);
        }

        protected override void OnRecoveryFailure(Exception cause, object? @event)
        {
            failures.Enqueue($"recovery {id}: {cause.Message}");
            base.OnRecoveryFailure(cause, @event);
        }

        public sealed record Add(int Value);

        public sealed record Added(int Value);

        public sealed record Acknowledged(string Id, long SequenceNumber, int Value);
    }
}
