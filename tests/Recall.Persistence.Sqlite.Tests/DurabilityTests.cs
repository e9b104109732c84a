using System.Globalization;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>
/// Acknowledged means durable: a writer in a child process persists events and prints every
/// acknowledged one; it is killed with SIGKILL at a random moment, several rounds on one file,
/// and every acknowledged event must be there, contiguous from 1, without duplicates.
/// </summary>
public sealed class DurabilityTests : IDisposable
{
    private const string PersistenceId = "probe-1";
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Every_acknowledged_event_survives_SIGKILL_of_the_writer()
    {
        var random = new Random(20261126);
        var acknowledged = new Dictionary<long, int>();
        for (var round = 0; round < 4; round++)
        {
            var lastBefore = acknowledged.Count == 0 ? 0 : acknowledged.Keys.Max();
            var acks = await RunAndKillAsync(TimeSpan.FromMilliseconds(random.Next(150, 900)));
            Assert.NotEmpty(acks);
            foreach (var (sequenceNumber, value) in acks)
            {
                Assert.True(acknowledged.TryAdd(sequenceNumber, value), $"sequence number {sequenceNumber} was acknowledged twice");
                Assert.True(sequenceNumber > lastBefore, $"round {round} acknowledged {sequenceNumber}, not above the {lastBefore} of the earlier rounds");
            }
        }

        var stored = ReadStoredEvents();
        foreach (var (sequenceNumber, value) in acknowledged)
        {
            Assert.True(stored.TryGetValue(sequenceNumber, out var storedValue), $"acknowledged event {sequenceNumber} is missing after SIGKILL");
            Assert.Equal(value, storedValue);
        }

        var numbers = stored.Keys.Order().ToArray();
        Assert.Equal(Enumerable.Range(1, numbers.Length).Select(n => (long)n), numbers);

        // Recovery of the actor gives the state the stored events imply.
        await using var system = ActorSystem.Create("verify", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.Register<ProbeAdded>("probe.added.v1")));
        var summer = system.Spawn(Props.Create(() => new Summer(PersistenceId)));
        var (count, sum) = await summer.Ask<(long, long)>("sum", TimeSpan.FromSeconds(30));
        Assert.Equal(numbers.Length, count);
        Assert.Equal(stored.Values.Sum(v => (long)v), sum);
    }

    private async Task<List<(long SequenceNumber, int Value)>> RunAndKillAsync(TimeSpan runFor)
    {
        var started = DateTime.MaxValue;
        var lines = await ProbeProcess.RunAndKillAsync(
            [_database.Path, PersistenceId],
            seen =>
            {
                if (started == DateTime.MaxValue && seen.Any(l => l.StartsWith("ready", StringComparison.Ordinal)))
                {
                    started = DateTime.UtcNow;
                }

                return DateTime.UtcNow - started >= runFor;
            });
        return [.. lines
            .Select(line => line.Split(' '))
            .Where(parts => parts[0] == "ack")
            .Select(parts => (long.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)))];
    }

    private Dictionary<long, int> ReadStoredEvents()
    {
        using var connection = new SqliteConnection($"Data Source={_database.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sequence_number, payload FROM journal WHERE persistence_id = $pid";
        command.Parameters.AddWithValue("$pid", PersistenceId);
        using var reader = command.ExecuteReader();
        var stored = new Dictionary<long, int>();
        var serialization = new EventSerialization();
        serialization.Registry.Register<ProbeAdded>("probe.added.v1");
        while (reader.Read())
        {
            var sequenceNumber = reader.GetInt64(0);
            var added = (ProbeAdded)serialization.Deserialize("probe.added.v1", (byte[])reader.GetValue(1));
            Assert.True(stored.TryAdd(sequenceNumber, added.Value), $"sequence number {sequenceNumber} is stored twice");
        }

        return stored;
    }

    /// <summary>The probe's event, as the probe stores it.</summary>
    public sealed record ProbeAdded(int Value);

    private sealed class Summer(string id) : PersistentActor
    {
        private long _count;
        private long _sum;

        public override string PersistenceId => id;

        protected override void ReceiveCommand(object command) => Sender.Tell((_count, _sum));

        protected override void ReceiveRecover(object message)
        {
            if (message is ProbeAdded added)
            {
                _count++;
                _sum += added.Value;
            }
        }
    }
}
