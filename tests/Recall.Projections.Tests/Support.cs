using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Recall.Persistence;
using Recall.Persistence.InMemory;
using Recall.Persistence.Journal;
using Recall.Persistence.Query;
using Recall.Persistence.Serialization;
using Recall.TestKit;

namespace Recall.Projections.Tests;

/// <summary>The tests' event: a value to add up.</summary>
[EventType("projections-test.added.v1")]
public sealed record Added(int Value);

/// <summary>
/// An actor system with an in-memory journal (shareable between systems, like a database shared by
/// processes), projections enabled, and logs captured. Events are written straight to the journal,
/// with the timestamps a test chooses.
/// </summary>
public sealed class Harness : IAsyncDisposable
{
    public static readonly DateTimeOffset T0 = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly Dictionary<string, long> _sequenceNumbers = [];
    private readonly ILoggerFactory _loggerFactory;

    private Harness(InMemoryJournal journal, FakeTimeProvider? clock, Action<PersistenceOptions>? persistence)
    {
        Journal = journal;
        _loggerFactory = CapturingLoggerProvider.CreateFactory(out var logs);
        Logs = logs;
        System = ActorSystem.Create("projections", o =>
        {
            o.LoggerFactory = _loggerFactory;
            if (clock is not null)
            {
                o.TimeProvider = clock;
            }

            o.UsePersistence(p =>
            {
                p.UseJournal(journal);
                persistence?.Invoke(p);
            })
            .UseProjections();
        });
    }

    public ActorSystem System { get; }

    public InMemoryJournal Journal { get; }

    public CapturingLoggerProvider Logs { get; }

    public ProjectionRegistry Projections => System.Projections();

    public IReadJournal ReadJournal => System.Persistence().ReadJournal;

    /// <summary>A system over a new journal, or over <paramref name="journal"/> (another "process" on the same store).</summary>
    public static Harness Create(InMemoryJournal? journal = null, FakeTimeProvider? clock = null, Action<PersistenceOptions>? persistence = null) =>
        new(journal ?? NewJournal(), clock, persistence);

    public static InMemoryJournal NewJournal() => new(new EventSerialization());

    /// <summary>Writes the next event of <paramref name="persistenceId"/>; returns its offset.</summary>
    public async Task<Offset> WriteAsync(string persistenceId, object payload, DateTimeOffset? timestamp = null, params string[] tags)
    {
        var sequenceNumber = _sequenceNumbers[persistenceId] = _sequenceNumbers.GetValueOrDefault(persistenceId) + 1;
        var repr = new PersistentRepr(persistenceId, sequenceNumber, payload) { Timestamp = timestamp ?? DateTimeOffset.UtcNow, Tags = tags, WriterId = "test" };
        var results = await Journal.WriteAsync([new AtomicWrite(repr)], CancellationToken.None);
        Assert.Null(results[0]);
        return await Journal.ReadLatestOffsetAsync(CancellationToken.None);
    }

    /// <summary>Writes <paramref name="count"/> events with values <paramref name="firstValue"/>, +1, ... tagged <paramref name="tag"/>, round-robin over <paramref name="ids"/> ids.</summary>
    public async Task<Offset> WriteManyAsync(string tag, int count, int firstValue = 1, int ids = 3, string prefix = "p")
    {
        var offset = Offset.Start;
        for (var i = 0; i < count; i++)
        {
            offset = await WriteAsync($"{prefix}-{i % ids}", new Added(firstValue + i), T0.AddSeconds(firstValue + i), tag);
        }

        return offset;
    }

    public async ValueTask DisposeAsync()
    {
        await System.TerminateAsync();
        _loggerFactory.Dispose();
    }
}

/// <summary>A fake clock that tells when a timer with a given due time is created (a component has started to wait).</summary>
public sealed class TimerWatchingClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly List<(TimeSpan DueTime, TaskCompletionSource Created)> _waiters = [];
    private readonly List<TimeSpan> _created = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_waiters)
        {
            _created.Add(dueTime);
            foreach (var waiter in _waiters.Where(w => w.DueTime == dueTime).ToList())
            {
                waiter.Created.TrySetResult();
                _waiters.Remove(waiter);
            }
        }

        return timer;
    }

    /// <summary>Completes once a timer due after <paramref name="dueTime"/> has been created (at once if one was).</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime)
    {
        lock (_waiters)
        {
            if (_created.Contains(dueTime))
            {
                return Task.CompletedTask;
            }

            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((dueTime, created));
            return created.Task;
        }
    }
}

public static class Wait
{
    public static TimeSpan Timeout => TestKitSettings.Dilated(TimeSpan.FromSeconds(15));

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <see cref="Timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Waits for <paramref name="task"/>, failing after <see cref="Timeout"/>.</summary>
    public static async Task ForAsync(Task task, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(Timeout)) != task)
        {
            throw new TimeoutException($"Timed out waiting for {what}.");
        }

        await task;
    }

    /// <inheritdoc cref="ForAsync(Task, string)"/>
    public static async Task<T> ForAsync<T>(Task<T> task, string what)
    {
        await ForAsync((Task)task, what);
        return await task;
    }
}

/// <summary>A fresh temporary folder with a database path, removed afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = Directory.CreateTempSubdirectory("recall-projections-").FullName;
    }

    public string Path { get; }

    public string File(string name = "model.db") => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>SQL helpers for read-model assertions.</summary>
public static class Sql
{
    public static long Scalar(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string? Text(string path, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() as string;
    }
}
