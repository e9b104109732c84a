using Npgsql;
using Recall.Persistence.Query;

namespace Recall.Persistence.PostgreSql;

/// <summary>
/// The read side's push: one connection that LISTENs to the schema's channel and calls
/// <c>wake</c> on every notification, so that live streams read at once instead of at their next
/// poll. Started by the first live stream; reconnects with backoff when the connection is lost;
/// closed on dispose.
/// </summary>
/// <remarks>
/// Notifications are hints, not data: one lost while the connection is down only delays streams
/// until they poll. After every (re)connection the listener wakes the streams once, so that writes
/// made while it was away are read without waiting for the poll.
/// </remarks>
internal sealed class PostgreSqlListener : IAsyncDisposable
{
    /// <summary>How long the connection may stay silent before it is checked with a query.</summary>
    internal static readonly TimeSpan IdleCheck = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    private readonly string _connectionString;
    private readonly string _channel;
    private readonly Action _wake;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstListen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private Task? _loop;
    private bool _disposed;
    private int _connections;
    private int _processId;

    public PostgreSqlListener(string connectionString, string channel, Action wake)
    {
        _connectionString = connectionString;
        _channel = channel;
        _wake = wake;
    }

    /// <summary>How many times the listener has started listening (1 after the first start, more after reconnections).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Completes when the listener first listens (for tests: a notification sent after it is not lost).</summary>
    public Task FirstListen => _firstListen.Task;

    /// <summary>The backend process id of the listening connection, or 0 while there is none (for tests that cut it).</summary>
    public int ProcessId => Volatile.Read(ref _processId);

    /// <summary>Starts listening unless it already does (or was disposed); cheap to call again.</summary>
    public void EnsureStarted()
    {
        if (Volatile.Read(ref _loop) is not null)
        {
            return;
        }

        lock (_gate)
        {
            if (_loop is null && !_disposed)
            {
                var stop = _stop.Token;
                _loop = Task.Run(() => RunAsync(stop));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            loop = _loop;
        }

        await _stop.CancelAsync();
        if (loop is not null)
        {
            // The loop ends on cancellation and never throws.
            await loop;
        }

        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = MinBackoff;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(_connectionString);
                connection.Notification += (_, _) => _wake();
                await connection.OpenAsync(stop);
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgreSqlSchema.Quote(_channel)}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop);
                }

                Volatile.Write(ref _processId, connection.ProcessID);
                Interlocked.Increment(ref _connections);
                _firstListen.TrySetResult();
                backoff = MinBackoff;

                // Writes may have committed while nobody listened (before the first start, or while
                // the connection was down): let the streams look once.
                _wake();
                while (true)
                {
                    if (!await connection.WaitAsync(IdleCheck, stop))
                    {
                        // Nothing for a while: make sure the connection is still there (a server that
                        // vanished without closing it would otherwise keep the listener deaf forever).
                        await using var check = new NpgsqlCommand("SELECT 1", connection) { CommandTimeout = 10 };
                        await check.ExecuteScalarAsync(stop);
                    }
                }
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // Lost or refused: the streams fall back on polling until the listener is back.
                Volatile.Write(ref _processId, 0);
            }

            try
            {
                // Jitter, so that many processes do not reconnect to a restarted server in step.
                await Task.Delay(backoff + TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)(backoff.TotalMilliseconds / 2) + 1)), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }
}

/// <summary>
/// Wakes live streams again when they caught up while committed events were not final yet: a
/// notification (or this process's own write) can arrive while an older transaction elsewhere
/// is still finishing, and that transaction may send no notification of its own (another
/// schema's, another application's, a rolled-back one). Rather than leave the streams to their
/// poll interval, wake them after 5 ms, then at doubling intervals up to 1 s while events stay
/// pending. One timer for all streams of the database.
/// </summary>
internal sealed class WakeUntilFinal(WriteNotifier writes)
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(1);
    private long _nextDelayTicks = First.Ticks;
    private int _scheduled;

    /// <summary>A read of the live tail finished: <paramref name="pending"/> when committed events were not final yet.</summary>
    public void Read(bool caughtUp, bool pending)
    {
        if (!pending)
        {
            Volatile.Write(ref _nextDelayTicks, First.Ticks);
            return;
        }

        if (!caughtUp || Interlocked.Exchange(ref _scheduled, 1) == 1)
        {
            return;
        }

        var delay = Volatile.Read(ref _nextDelayTicks);
        Volatile.Write(ref _nextDelayTicks, Math.Min(delay * 2, Longest.Ticks));
        _ = WakeLaterAsync(TimeSpan.FromTicks(delay));
    }

    private async Task WakeLaterAsync(TimeSpan delay)
    {
        await Task.Delay(delay).ConfigureAwait(false);
        Volatile.Write(ref _scheduled, 0);
        writes.Notify();
    }
}
