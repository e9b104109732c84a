using Microsoft.Data.Sqlite;
using Npgsql;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;

namespace Recall.Benchmarks.Workloads.Persistence;

/// <summary>How a persistence workload reaches its store: configure a system, and clean up after (the SQLite folder, or the PostgreSQL schema).</summary>
internal sealed class BenchStore : IDisposable
{
    private readonly string? _folder;
    private readonly string? _postgres;
    private readonly string? _schema;

    private BenchStore(string name, string? folder, string? postgres = null)
    {
        Name = name;
        _folder = folder;
        _postgres = postgres;
        _schema = postgres is null ? null : "bench_" + Guid.NewGuid().ToString("N")[..12];
    }

    public string Name { get; }

    /// <summary>Whether the memory store serializes events (default) or keeps the objects.</summary>
    public bool Serialize { get; set; } = true;

    /// <summary>The SQLite file, for the sqlite store.</summary>
    public string? SqlitePath => _folder is null ? null : Path.Combine(_folder, "journal.db");

    /// <summary>A fresh, empty store: a new SQLite file, or (memory) the system's own.</summary>
    public static BenchStore Fresh(string name, string? postgres = null) => name switch
    {
        "memory" => new BenchStore(name, null),
        "sqlite" => new BenchStore(name, Directory.CreateTempSubdirectory("recall-bench-").FullName),
        "postgres" => new BenchStore(name, null, postgres ?? throw new BenchCheckException("the postgres store needs --postgres CONNSTR or RECALL_BENCH_POSTGRES")),
        _ => throw new BenchCheckException($"store '{name}' is not supported by this workload yet"),
    };

    public void Configure(ActorSystemOptions options) => options.UsePersistence(p =>
    {
        if (Name == "memory")
        {
            p.UseInMemory(Serialize);
        }
        else if (_postgres is not null)
        {
            p.UsePostgreSql(o =>
            {
                o.ConnectionString = _postgres;
                o.Schema = _schema!;
            });
        }
        else
        {
            p.UseSqlite(SqlitePath!);
        }
    });

    public void Dispose()
    {
        if (_postgres is not null && _schema is not null)
        {
            // Each run's schema holds its 100,000 events: left behind, they pile up in the database.
            using var connection = new NpgsqlConnection(_postgres);
            connection.Open();
            using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE", connection);
            drop.ExecuteNonQuery();
        }

        if (_folder is not null)
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>The workloads' persistent actor: each command persists its int; counts what it applied and replayed.</summary>
internal sealed class BenchCounter(string id, Mode mode, Countdown? recovered, Countdown? applied) : PersistentActor
{
    private long _replayed;
    private long _sum;

    public override string PersistenceId => id;

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case int value when mode == Mode.Persist:
                Persist(value, Apply);
                break;
            case int value:
                PersistAsync(value, Apply);
                break;
            case Ping:
                Sender.Tell(new Pong(_replayed, _sum, LastSequenceNumber), Self);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is int value)
        {
            _replayed++;
            _sum += value;
        }
        else if (message is RecoveryCompleted)
        {
            recovered?.Signal();
        }
    }

    private void Apply(int value)
    {
        _sum += value;
        applied?.Signal();
    }
}

/// <summary>The typed twin of <see cref="BenchCounter"/> (Persist only).</summary>
internal sealed class TypedBenchCounter(string id, Countdown recovered, Countdown applied)
    : EventSourcedActor<object, int, long>(PersistenceId.Of("bench", id), 0L)
{
    protected override Effect<int, long> OnCommand(long state, object command) => command switch
    {
        int value => Effect.Persist(value).ThenRun(_ => applied.Signal()),
        Ping => Effect.None().ThenRun(s => Context.Sender.Tell(new Pong(0, s, LastSequenceNumber), Self)),
        _ => Effect.Unhandled(),
    };

    protected override long OnEvent(long state, int @event) => state + @event;

    protected override void OnRecoveryCompleted(long state) => recovered.Signal();
}

internal enum Mode
{
    Persist,
    PersistAsync,
}

/// <summary>Asks a <see cref="BenchCounter"/> what it holds (after recovery and every handler before it).</summary>
internal sealed class Ping
{
    public static Ping Instance { get; } = new();
}

/// <summary>What a counter holds.</summary>
internal sealed record Pong(long Replayed, long Sum, long LastSequenceNumber);

/// <summary>Completes when signalled <c>count</c> times.</summary>
internal sealed class Countdown(long count)
{
    private long _left = count;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Done => _done.Task;

    public void Signal()
    {
        if (Interlocked.Decrement(ref _left) == 0)
        {
            _done.TrySetResult();
        }
    }
}
