using Microsoft.Data.Sqlite;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;
using Recall.Samples.Wallet;
using Recall.TestKit;

namespace Recall.Persistence.Sqlite.Tests;

/// <summary>Bad input gets a clear error that names what was wrong, and stored data is never destroyed.</summary>
public sealed class BadFileTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task A_constraint_of_the_schema_is_a_store_error_naming_it_not_a_second_writer()
    {
        await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization());
        var first = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("ledger", 1, "a"))], default);
        Assert.Null(first[0]);
        using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TRIGGER refuse_b BEFORE INSERT ON journal WHEN NEW.sequence_number = 2 BEGIN SELECT RAISE(ABORT, 'refuse_b says no'); END;";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAsync<SqliteStoreException>(async () => await journal.WriteAsync([new AtomicWrite(new PersistentRepr("ledger", 2, "b"))], default));
        var conflict = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("ledger", 1, "again"))], default);

        Assert.Contains("refuse_b says no", error.Message, StringComparison.Ordinal);
        Assert.Contains("not another writer", error.Message, StringComparison.Ordinal);
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        Assert.IsType<SequenceConflictException>(conflict[0]); // a real second writer is still told so
        Assert.Equal(1, await journal.ReadHighestSequenceNumberAsync("ledger", 0, default));
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_by_name_and_left_untouched()
    {
        File.WriteAllText(_database.Path, "these are somebody's notes, not a database\n");
        var before = File.ReadAllBytes(_database.Path);

        var error = Assert.Throws<SqliteStoreException>(() => new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization()));

        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        Assert.Contains("not a SQLite database", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_database.Path));
    }

    [Fact]
    public async Task A_truncated_file_is_refused_by_name_and_left_untouched()
    {
        await WriteWalletEventsAsync(200);
        SqliteConnection.ClearAllPools();
        var bytes = File.ReadAllBytes(_database.Path);
        File.WriteAllBytes(_database.Path, bytes[..(bytes.Length / 3)]);
        var before = File.ReadAllBytes(_database.Path);

        var error = await Record.ExceptionAsync(async () =>
        {
            await using var journal = new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization());
            await foreach (var _ in journal.ReplayAsync("wallet-alice", 1, long.MaxValue, long.MaxValue, CancellationToken.None))
            {
            }
        });

        var storeError = Assert.IsType<SqliteStoreException>(error);
        Assert.Contains(_database.Path, storeError.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_database.Path));
    }

    [Fact]
    public void A_database_of_a_newer_schema_version_is_refused_naming_both_versions()
    {
        using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE recall_schema (version INTEGER NOT NULL); INSERT INTO recall_schema VALUES (99);";
            command.ExecuteNonQuery();
        }

        var error = Assert.Throws<SqliteStoreException>(() => new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization()));

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_applications_database_is_refused_and_left_untouched()
    {
        using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES ('ada');";
            command.ExecuteNonQuery();
        }

        var before = File.ReadAllBytes(_database.Path);
        var error = Assert.Throws<SqliteStoreException>(() => new SqliteJournal(new SqliteStoreOptions { Path = _database.Path }, new EventSerialization()));

        Assert.Contains("another application", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(_database.Path));
    }

    [Fact]
    public void A_missing_file_is_an_error_when_creating_is_not_allowed_and_no_file_appears()
    {
        var error = Assert.Throws<SqliteStoreException>(() =>
            new SqliteJournal(new SqliteStoreOptions { Path = _database.Path, CreateIfMissing = false }, new EventSerialization()));
        Assert.Contains(_database.Path, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_database.Path));

        Assert.Throws<SqliteStoreException>(() => new SqliteJournalInspector(_database.Path));
        Assert.False(File.Exists(_database.Path));
    }

    [Fact]
    public async Task A_row_whose_payload_cannot_be_read_fails_recovery_naming_persistence_id_sequence_number_and_manifest()
    {
        await WriteWalletEventsAsync(3);
        using (var connection = new SqliteConnection($"Data Source={_database.Path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE journal SET payload = X'7B2243' WHERE persistence_id = 'wallet-alice' AND sequence_number = 2";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var failures = new List<Exception>();
        await using var system = ActorSystem.Create("verify", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.RegisterAssemblyOf<Wallet>()));
        var probe = new TestProbe(system);
        var wallet = system.Spawn(Props.Create(() => new ReportingWallet("alice", failures)));
        probe.Watch(wallet);
        await probe.ExpectTerminatedAsync(wallet);

        var failure = Assert.IsType<RecoveryFailedException>(Assert.Single(failures));
        Assert.Equal("wallet-alice", failure.PersistenceId);
        Assert.Equal(2, failure.SequenceNumber);
        Assert.Equal("wallet.balance-changed.v1", failure.Manifest);
        Assert.Contains("'wallet-alice'", failure.Message, StringComparison.Ordinal);
        Assert.Contains("sequence number 2", failure.Message, StringComparison.Ordinal);
        Assert.Contains("wallet.balance-changed.v1", failure.Message, StringComparison.Ordinal);

        // Nothing was deleted: the damaged row and its neighbours are still stored.
        using var inspector = new SqliteJournalInspector(_database.Path);
        Assert.Equal(3, (await inspector.EventsAsync("wallet-alice")).Count);
    }

    private async Task WriteWalletEventsAsync(int count)
    {
        await using var system = ActorSystem.Create("write", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.RegisterAssemblyOf<Wallet>()));
        var wallet = system.Spawn(Props.Create(() => new Wallet("alice")));
        for (var i = 0; i < count; i++)
        {
            wallet.Tell(new TakeMy(1), null);
        }

        Assert.Equal(count, await wallet.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(30)));
    }

    private sealed class ReportingWallet(string id, List<Exception> failures) : PersistentActor
    {
        public override string PersistenceId => $"wallet-{id}";

        protected override void ReceiveCommand(object command)
        {
        }

        protected override void ReceiveRecover(object message)
        {
        }

        protected override void OnRecoveryFailure(Exception cause, object? @event)
        {
            lock (failures)
            {
                failures.Add(cause);
            }
        }
    }
}
