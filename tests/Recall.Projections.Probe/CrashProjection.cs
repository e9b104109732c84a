using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Recall.Persistence.Query;
using Recall.Projections.Sqlite;

namespace Recall.Projections.Probe;

/// <summary>
/// The crash test's projection, the same in the killed process and in the test that finishes the
/// work: events 1..count of a synthetic source (offset n carries the value n) into the table
/// <c>model</c>, which has no key, so a twice-applied event would show as a second row.
/// </summary>
public static class CrashProjection
{
    public static SqliteProjection Create(string path, int count, Action<long, long>? onBatch = null, Action<long>? onApplied = null) =>
        SqliteProjection.ExactlyOnceGrouped("crash", ProjectionSource.Create("synthetic", (from, live, ct) => Events(from, count, live, ct)), path, (batch, connection, transaction, _) =>
            {
                onBatch?.Invoke(batch[0].Offset.Ordering, batch[^1].Offset.Ordering);
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "INSERT INTO model (value) VALUES ($v)";
                var value = command.Parameters.Add("$v", SqliteType.Integer);
                foreach (var envelope in batch)
                {
                    value.Value = (long)envelope.Event;
                    command.ExecuteNonQuery();
                    onApplied?.Invoke((long)envelope.Event);
                }

                return Task.CompletedTask;
            })
            .WithSetup((connection, transaction, _) =>
            {
                using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "CREATE TABLE IF NOT EXISTS model (value INTEGER NOT NULL)";
                command.ExecuteNonQuery();
                return Task.CompletedTask;
            })
            .WithOptions(o => o.MaxBatchSize = 25);

    private static async IAsyncEnumerable<EventEnvelope> Events(Offset from, int count, bool live, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var n = from.Ordering + 1; n <= count; n++)
        {
            yield return new EventEnvelope(Offset.Sequence(n), "synthetic|1", n, n, DateTimeOffset.UnixEpoch.AddSeconds(n), []);
        }

        if (live)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }
}
