using Npgsql;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.Samples.Wallet;
using Recall.TestKit;

namespace Recall.Persistence.PostgreSql.Tests;

/// <summary>Persistent actors on PostgreSQL: state survives a new actor system, and the database keeps a second writer out.</summary>
[RequiresPostgres]
public sealed class PostgreSqlActorTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));
    private readonly string _schema = PostgresServer.NewSchema("actors");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => PostgresServer.DropSchemaAsync(_schema);

    [Fact]
    public async Task Wallet_balances_survive_a_restart_of_the_actor_system()
    {
        await using (var system = CreateSystem("first"))
        {
            var wallet = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
            wallet.Tell(new TakeMy(10), null);
            wallet.Tell(new TakeMy(5), null);
            Assert.Equal(new TakeMy(4), await wallet.Ask<TakeMy>(new GiveMe(4), Timeout));
        }

        await using (var system = CreateSystem("second"))
        {
            var wallet = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
            Assert.Equal(11, await wallet.Ask<int>(new GetBalance(), Timeout));
        }
    }

    [Fact]
    public async Task A_second_writer_in_another_actor_system_makes_the_first_fail_and_the_history_stays_unmixed()
    {
        await using var first = CreateSystem("first");
        await using var second = CreateSystem("second");
        var failures = new TestProbe(first);

        var older = first.Spawn(Props.Create(() => new Recorder("account-1", failures.Ref)), "account-1");
        foreach (var (text, expected) in new[] { ("a1", 1L), ("a2", 2L), ("a3", 3L) })
        {
            Assert.Equal(expected, await older.Ask<long>(text, Timeout));
        }

        // A second incarnation starts elsewhere (say, after a network split) while the first still runs.
        var newer = second.Spawn(Props.Create(() => new Recorder("account-1", failures.Ref)), "account-1");
        Assert.Equal(4L, await newer.Ask<long>("b4", Timeout));
        Assert.Equal(5L, await newer.Ask<long>("b5", Timeout));

        // The first writer believes it is at 3 and persists 4: the primary key refuses it.
        failures.Watch(older);
        older.Tell("a-late", null);
        var failed = await failures.ExpectMsgAsync<Recorder.PersistFailed>(timeout: Timeout);
        Assert.Equal(4, failed.SequenceNumber);
        var conflict = Assert.IsType<SequenceConflictException>(failed.Cause);
        Assert.Equal("account-1", conflict.PersistenceId);
        await failures.ExpectTerminatedAsync(older, Timeout);

        Assert.Equal(6L, await newer.Ask<long>("b6", Timeout));

        var stored = await StoredAsync("account-1");
        Assert.Equal(["a1", "a2", "a3", "b4", "b5", "b6"], stored.Select(row => row.Text));
        Assert.Single(stored.Take(3).Select(row => row.WriterId).Distinct());
        Assert.Single(stored.Skip(3).Select(row => row.WriterId).Distinct());
        Assert.NotEqual(stored[0].WriterId, stored[3].WriterId);
    }

    [Fact]
    public async Task The_read_journal_of_a_system_streams_what_actors_persist_in_it_and_in_another_system()
    {
        await using var writer = CreateSystem("writer");
        await using var reader = CreateSystem("reader");
        using var cancel = new CancellationTokenSource(Timeout * 3);

        // Live streams of both systems run before anything is persisted.
        var inReader = Collect(reader.Persistence().ReadJournal.EventsByTag("audit", Offset.Start, live: true, cancel.Token), 6);
        var inWriter = Collect(writer.Persistence().ReadJournal.EventsByTag("audit", Offset.Start, live: true, cancel.Token), 6);
        var bySlices = Collect(reader.Persistence().ReadJournal.EventsBySlices("ledger", 0, Slices.Count - 1, Offset.Start, live: true, cancel.Token), 6);

        var first = writer.Spawn(Props.Create(() => new Auditor(PersistenceId.Of("ledger", "1").Value)), "ledger-1");
        var second = writer.Spawn(Props.Create(() => new Auditor(PersistenceId.Of("ledger", "2").Value)), "ledger-2");
        foreach (var (auditor, text) in new[] { (first, "a"), (second, "b"), (first, "c"), (second, "d"), (first, "e"), (second, "f") })
        {
            await auditor.Ask<long>(text, Timeout);
        }

        foreach (var stream in new[] { inReader, inWriter, bySlices })
        {
            var envelopes = await stream;
            Assert.Equal(["a", "b", "c", "d", "e", "f"], envelopes.Select(e => ((Recorder.Recorded)e.Event).Text));
            Assert.All(envelopes, e => Assert.Equal(["audit"], e.Tags));
        }

        var history = new List<EventEnvelope>();
        await foreach (var envelope in reader.Persistence().ReadJournal.EventsByPersistenceId("ledger|2", 1, long.MaxValue, live: false))
        {
            history.Add(envelope);
        }

        Assert.Equal(["b", "d", "f"], history.Select(e => ((Recorder.Recorded)e.Event).Text));
        var ids = new List<string>();
        await foreach (var id in reader.Persistence().ReadJournal.PersistenceIds(live: false))
        {
            ids.Add(id);
        }

        Assert.Equal(["ledger|1", "ledger|2"], ids);

        static async Task<List<EventEnvelope>> Collect(IAsyncEnumerable<EventEnvelope> stream, int count)
        {
            var seen = new List<EventEnvelope>();
            await foreach (var envelope in stream)
            {
                seen.Add(envelope);
                if (seen.Count == count)
                {
                    break;
                }
            }

            return seen;
        }
    }

    private ActorSystem CreateSystem(string name) =>
        ActorSystem.Create(name, o => o.UsePersistence(p => p
            .UsePostgreSql(s =>
            {
                s.ConnectionString = PostgresServer.Required;
                s.Schema = _schema;
                s.MaxReadConnections = 4;
                s.MaxWriteConnections = 2;
            })
            .Events.RegisterAssemblyOf<Wallet>()
            .Register<Recorder.Recorded>("test.recorded.v1")));

    private async Task<List<(string Text, string WriterId)>> StoredAsync(string id)
    {
        await using var connection = await PostgresServer.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"SELECT convert_from(payload, 'UTF8')::jsonb ->> 'Text', writer_id FROM \"{_schema}\".journal WHERE persistence_id = $1 ORDER BY sequence_number", connection);
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1)));
        }

        return rows;
    }

    /// <summary>Persists each text it is sent tagged "audit", and replies with the sequence number.</summary>
    private sealed class Auditor(string id) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is string text)
            {
                Persist(new Tagged(new Recorder.Recorded(text), "audit"), _ => Sender.Tell(LastSequenceNumber));
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

    /// <summary>Persists each text it is sent, replies with the sequence number, and reports a failed persist.</summary>
    private sealed class Recorder(string id, IActorRef failures) : PersistentActor
    {
        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command)
        {
            if (command is string text)
            {
                Persist(new Recorded(text), _ => Sender.Tell(LastSequenceNumber));
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
            failures.Tell(new PersistFailed(cause, sequenceNumber), null);
            base.OnPersistFailure(cause, @event, sequenceNumber);
        }

        public sealed record Recorded(string Text);

        public sealed record PersistFailed(Exception Cause, long SequenceNumber);
    }
}
