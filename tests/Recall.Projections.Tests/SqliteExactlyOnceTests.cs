using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections.Sqlite;

namespace Recall.Projections.Tests;

/// <summary>
/// Exactly-once projections into a SQLite file: the read model and the offset commit together, so
/// a failure or a stop in the middle of a batch neither applies an event twice nor loses one.
/// </summary>
public sealed class SqliteExactlyOnceTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private readonly Harness _harness = Harness.Create();

    private string Path => _folder.File();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        _folder.Dispose();
    }

    internal static Task CreateModel(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;

        // No key on purpose: a twice-applied event shows up as a second row.
        command.CommandText = "CREATE TABLE IF NOT EXISTS model (persistence_id TEXT NOT NULL, sequence_number INTEGER NOT NULL, value INTEGER NOT NULL)";
        command.ExecuteNonQuery();
        return Task.CompletedTask;
    }

    internal static void Insert(EventEnvelope envelope, SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO model (persistence_id, sequence_number, value) VALUES ($p, $s, $v)";
        command.Parameters.AddWithValue("$p", envelope.PersistenceId);
        command.Parameters.AddWithValue("$s", envelope.SequenceNumber);
        command.Parameters.AddWithValue("$v", ((Added)envelope.Event).Value);
        command.ExecuteNonQuery();
    }

    internal static long Rows(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT count(*) FROM model";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Asserts the read model holds the events with values 1..<paramref name="count"/>, each once.</summary>
    internal static void AssertExactlyOnce(string path, int count)
    {
        Assert.Equal(count, Sql.Scalar(path, "SELECT count(*) FROM model"));
        Assert.Equal((long)count * (count + 1) / 2, Sql.Scalar(path, "SELECT coalesce(sum(value), 0) FROM model"));
        Assert.Equal(0, Sql.Scalar(path, "SELECT count(*) FROM (SELECT 1 FROM model GROUP BY persistence_id, sequence_number HAVING count(*) > 1)"));
    }

    private SqliteProjection Model(string name = "model", SqliteEnvelopeHandler? handler = null, ProjectionSource? source = null) =>
        SqliteProjection.ExactlyOnce(name, source ?? ProjectionSource.EventsByTag("green"), Path, handler ?? ((e, c, t, _) =>
            {
                Insert(e, c, t);
                return Task.CompletedTask;
            }))
            .WithSetup(CreateModel)
            .WithOptions(o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBatchDelay = TimeSpan.FromMilliseconds(200);
                o.MinBackoff = TimeSpan.FromMilliseconds(20);
            });

    [Fact]
    public async Task A_handler_failing_mid_batch_rolls_the_batch_back_and_the_restart_applies_each_event_once()
    {
        var last = await _harness.WriteManyAsync("green", 50);
        long rowsSeenAtFailure = -1;
        var failed = 0;
        var handle = _harness.Projections.Start(Model(handler: (e, c, t, _) =>
        {
            Insert(e, c, t);
            if (((Added)e.Event).Value == 27 && Interlocked.Exchange(ref failed, 1) == 0)
            {
                rowsSeenAtFailure = Rows(c, t);
                throw new InvalidOperationException("constraint violated");
            }

            return Task.CompletedTask;
        }));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        Assert.Equal(27, rowsSeenAtFailure); // committed batches + the failed batch's rows up to 27, in its transaction
        AssertExactlyOnce(Path, 50);
        Assert.Equal(1, handle.Status.Restarts);
        Assert.Equal(last.Ordering, Sql.Scalar(Path, "SELECT offset_ordering FROM recall_projection_offsets WHERE projection_name = 'model' AND projection_key = 'green'"));
        Assert.Equal(1, Sql.Scalar(Path, "SELECT count(*) FROM recall_projection_offsets WHERE last_error LIKE '%constraint violated%'"));
    }

    [Fact]
    public async Task A_projection_stopped_in_the_middle_of_a_batch_leaves_nothing_of_it_and_the_next_process_goes_on()
    {
        var last = await _harness.WriteManyAsync("green", 50);
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _harness.Projections.Start(Model(handler: async (e, c, t, ct) =>
        {
            Insert(e, c, t);
            if (((Added)e.Event).Value == 35)
            {
                stuck.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct); // until the system terminates
            }
        }));
        await Wait.ForAsync(stuck.Task, "the handler in the middle of a batch");
        await _harness.System.TerminateAsync();

        // What was committed is exactly the batches before the stuck one: rows and offset agree.
        var committed = Sql.Scalar(Path, "SELECT count(*) FROM model");
        Assert.InRange(committed, 1, 34);
        Assert.Equal(committed, Sql.Scalar(Path, "SELECT offset_ordering FROM recall_projection_offsets WHERE state = 'stopped'"));

        await using var next = Harness.Create(_harness.Journal);
        var handle = next.Projections.Start(Model());
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up in the next process");
        AssertExactlyOnce(Path, 50);
    }

    [Fact]
    public async Task A_second_instance_with_a_stale_offset_rolls_back_instead_of_applying_twice()
    {
        var last = await _harness.WriteManyAsync("green", 10);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var other = Harness.Create(_harness.Journal);

        // The first instance reads its offset (0), then its events arrive only after the second one stored offset 10.
        var late = _harness.Projections.Start(Model(source: ProjectionSource.Create("green", (from, live, ct) =>
            Gated(_harness.ReadJournal.EventsByTag("green", from, live, ct), gate.Task, ct))));
        await Wait.UntilAsync(() => _harness.Logs.Entries.Any(e => e.EventId.Id == 1), "the first instance read its offset");
        var early = other.Projections.Start(Model());
        await Wait.ForAsync(early.WaitForOffsetAsync(last), "the second instance");
        gate.SetResult();

        await Wait.UntilAsync(() => late.Status.Restarts == 1 && late.Status.Offset == last, "the first instance restarted from the stored offset");
        Assert.Contains("another instance", late.Status.LastError, StringComparison.Ordinal);
        AssertExactlyOnce(Path, 10);
    }

    [Fact]
    public async Task Rebuild_clears_the_read_model_and_resets_the_offset_in_one_transaction_then_applies_everything_again()
    {
        var last = await _harness.WriteManyAsync("green", 25);
        var handle = _harness.Projections.Start(Model().WithClear((c, t, _) =>
        {
            using var command = c.CreateCommand();
            command.Transaction = t;
            command.CommandText = "DELETE FROM model";
            command.ExecuteNonQuery();
            return Task.CompletedTask;
        }));
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");

        await handle.PauseAsync();
        await handle.RebuildAsync();
        Assert.Equal(0, Sql.Scalar(Path, "SELECT count(*) FROM model"));
        Assert.Equal(1, Sql.Scalar(Path, "SELECT count(*) FROM recall_projection_offsets WHERE offset_ordering = 0 AND offset_transaction = 0 AND event_timestamp IS NULL AND state = 'paused'"));
        Assert.Equal(Offset.Start, handle.Status.Offset);

        await handle.ResumeAsync();
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "the rebuild");
        AssertExactlyOnce(Path, 25);
        Assert.Equal(50, handle.Status.EventsHandled);
    }

    [Fact]
    public async Task Grouped_handlers_get_whole_batches_in_one_transaction()
    {
        var last = await _harness.WriteManyAsync("green", 35);
        var sizes = new List<int>();
        var handle = _harness.Projections.Start(SqliteProjection.ExactlyOnceGrouped("model", ProjectionSource.EventsByTag("green"), Path, (batch, c, t, _) =>
            {
                sizes.Add(batch.Count);
                foreach (var e in batch)
                {
                    Insert(e, c, t);
                }

                return Task.CompletedTask;
            })
            .WithSetup(CreateModel)
            .WithOptions(o =>
            {
                o.MaxBatchSize = 10;
                o.MaxBatchDelay = TimeSpan.FromSeconds(1);
            }));

        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        Assert.Equal([10, 10, 10, 5], sizes);
        AssertExactlyOnce(Path, 35);
    }

    [Fact]
    public async Task The_offsets_table_and_its_state_columns_are_readable_from_the_file_alone()
    {
        var last = await _harness.WriteManyAsync("green", 5);
        var handle = _harness.Projections.Start(Model());
        await Wait.ForAsync(handle.WaitForOffsetAsync(last), "catch-up");
        await handle.PauseAsync();

        using var connection = Recall.Persistence.Sqlite.SqliteReadOnlyConnection.Open(Path);
        var row = Assert.Single(SqliteProjectionsInspector.Read(connection));
        Assert.Equal(new ProjectionId("model", "green"), row.Id);
        Assert.Equal(last, row.Offset);
        Assert.Equal(Harness.T0.AddSeconds(5), row.LastEventTimestamp);
        Assert.Equal(ProjectionState.Paused, row.State);
        Assert.Null(row.LastError);
        Assert.InRange(row.UpdatedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    private static async IAsyncEnumerable<EventEnvelope> Gated(IAsyncEnumerable<EventEnvelope> events, Task gate, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        await foreach (var envelope in events.WithCancellation(cancellationToken))
        {
            yield return envelope;
        }
    }
}
