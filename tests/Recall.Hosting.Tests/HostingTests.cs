using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.InMemory;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;
using Recall.TestKit;
using Recall.TestKit.Persistence;

namespace Recall.Hosting.Tests;

public sealed class HostingTests
{
    private static readonly TimeSpan s_timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(10));

    /// <summary>A host without appsettings, environment or command line: only what the test gives.</summary>
    private static HostApplicationBuilder NewBuilder(params (string Key, string? Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var values = new Dictionary<string, string?>();
        foreach (var (key, value) in settings)
        {
            values[key] = value; // a later setting replaces an earlier one
        }

        builder.Configuration.AddInMemoryCollection(values);
        return builder;
    }

    [Fact]
    public async Task The_host_starts_an_actor_system_with_the_settings_from_configuration()
    {
        var clock = new FakeTimeProvider();
        var builder = NewBuilder(
            ("Recall:SystemName", "shop-one"),
            ("Recall:Store", "memory"),
            ("Recall:Persistence:MaxBatchSize", "17"),
            ("Recall:Persistence:JournalCallTimeout", "00:00:03"),
            ("Recall:Persistence:InternalStashOverflow", "Drop"),
            ("Recall:DrainTimeout", "00:00:02"));
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall"));
        using var host = builder.Build();

        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();

        Assert.Equal("shop-one", system.Name);
        Assert.Same(clock, system.TimeProvider);
        Assert.Same(host.Services.GetRequiredService<ILoggerFactory>(), system.LoggerFactory);
        var persistence = system.Persistence();
        Assert.IsType<InMemoryJournal>(persistence.Journal);
        Assert.Equal(17, persistence.Options.MaxBatchSize);
        Assert.Equal(TimeSpan.FromSeconds(3), persistence.Options.JournalCallTimeout);
        Assert.Equal(StashOverflowStrategy.Drop, persistence.Options.InternalStashOverflow);
        Assert.Equal(TimeSpan.FromSeconds(30), persistence.Options.RecoveryEventTimeout); // not configured: the default

        await host.StopAsync();
        Assert.True(system.WhenTerminated.IsCompleted);
    }

    [Fact]
    public async Task Code_runs_after_configuration_and_wins_where_both_set_something()
    {
        var builder = NewBuilder(("Recall:Store", "memory"), ("Recall:Persistence:MaxBatchSize", "17"), ("Recall:Persistence:MaxConcurrentRecoveries", "3"));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall"), o => o
            .UsePersistence(p => p.MaxBatchSize = 5)
            .ConfigureActorSystem(s => s.Throughput = 7));
        using var host = builder.Build();

        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();

        Assert.Equal("recall", system.Name);
        Assert.Equal(5, system.Persistence().Options.MaxBatchSize);
        Assert.Equal(3, system.Persistence().Options.MaxConcurrentRecoveries);
        Assert.Equal(7, system.Options.Throughput);
        await host.StopAsync();
    }

    [Fact]
    public async Task Without_a_store_the_system_has_no_persistence_and_still_starts_and_stops()
    {
        var builder = NewBuilder();
        builder.Services.AddRecall(o => o.SystemName = "plain");
        using var host = builder.Build();

        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        Assert.Null(system.TryGetExtension<PersistenceExtension>());

        await host.StopAsync();
        Assert.True(system.WhenTerminated.IsCompleted);
    }

    [Fact]
    public async Task A_registered_actor_gets_its_services_from_the_container()
    {
        var builder = NewBuilder();
        builder.Services.AddSingleton<IGreetingFormatter, GreetingFormatter>();
        builder.Services.AddRecall().AddActor<Greeter>("greeter", "Hello");
        using var host = builder.Build();
        await host.StartAsync();

        var registry = host.Services.GetRequiredService<ActorRegistry>();
        var greeter = registry.Get("greeter");

        Assert.Equal("Hello, Ada!", await greeter.Ask<string>("Ada", s_timeout));
        Assert.EndsWith("/user/greeter", greeter.Path.ToString());
        Assert.Same(greeter, host.Services.GetRequiredKeyedService<IActorRef>("greeter"));
        Assert.Same(greeter, registry.Get<Greeter>());
        Assert.Equal(["greeter"], registry.Names);
        var missing = Assert.Throws<KeyNotFoundException>(() => registry.Get("nobody"));
        Assert.Contains("AddActor", missing.Message);
        await host.StopAsync();
    }

    [Fact]
    public async Task The_dependency_resolver_makes_props_with_services_and_explicit_arguments()
    {
        var builder = NewBuilder();
        builder.Services.AddSingleton<IGreetingFormatter, GreetingFormatter>();
        builder.Services.AddRecall();
        using var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();

        var greeter = system.Spawn(system.DependencyResolver().Props<Greeter>("Good morning"));

        Assert.Equal("Good morning, Grace!", await greeter.Ask<string>("Grace", s_timeout));
        Assert.Throws<ArgumentException>(() => system.DependencyResolver().Props<Greeter>(null!, "x"));
        await host.StopAsync();
    }

    [Fact]
    public async Task An_actor_whose_service_is_missing_fails_to_start_and_says_which()
    {
        var builder = NewBuilder();
        builder.Services.AddRecall(); // no IGreetingFormatter
        using var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var probe = new TestProbe(system);

        var greeter = system.Spawn(system.DependencyResolver().Props<Greeter>("Hi"));
        probe.Watch(greeter);

        await probe.ExpectTerminatedAsync(greeter); // ActorInitializationException: the default strategy stops it
        await host.StopAsync();
    }

    [Fact]
    public async Task Persisted_events_survive_a_stop_and_a_new_start_of_the_host()
    {
        var path = Path.Combine(Path.GetTempPath(), $"recall-hosting-{Guid.NewGuid():N}.db");
        try
        {
            async Task<int> RunAsync(Func<IActorRef, Task<int>> work)
            {
                var builder = NewBuilder(("Recall:Sqlite:Path", path)); // no Recall:Store: the store added (last) runs
                builder.Services.AddRecall(builder.Configuration.GetSection("Recall"), o => o
                    .UsePersistence(p => p.Events.Register<Added>()))
                    .UseSqlite()
                    .AddActor<Counter>("counter");
                using var host = builder.Build();
                await host.StartAsync();
                Assert.IsType<SqliteJournal>(host.Services.GetRequiredService<ActorSystem>().Persistence().Journal);
                var result = await work(host.Services.GetRequiredService<ActorRegistry>().Get("counter"));
                await host.StopAsync();
                return result;
            }

            var first = await RunAsync(async counter =>
            {
                await counter.Ask<int>(new Add(5), s_timeout);
                return await counter.Ask<int>(new Add(7), s_timeout);
            });
            var second = await RunAsync(counter => counter.Ask<int>(new GetTotal(), s_timeout));

            Assert.Equal(12, first);
            Assert.Equal(12, second);
        }
        finally
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task Stopping_the_host_waits_for_a_write_in_flight_and_its_handler()
    {
        FailingJournal journal = null!;
        var builder = NewBuilder();
        builder.Services.AddRecall(o => o.UsePersistence(p => p
            .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))
            .UseSnapshotStore(s => new InMemorySnapshotStore(s))))
            .AddActor<Counter>("counter");
        using var host = builder.Build();
        await host.StartAsync();
        var counter = host.Services.GetRequiredService<ActorRegistry>().Get("counter");
        journal.StallWrites();

        var reply = counter.Ask<int>(new Add(5), s_timeout);
        await WaitUntilAsync(() => journal.StalledCount == 1);
        var stopping = host.StopAsync();
        Assert.False(reply.IsCompleted);

        // The handler cannot run before the write is released: a stop that ends with it run (and
        // replied) waited for the release, however long that took.
        journal.ReleaseStalled();
        await stopping.WaitAsync(s_timeout);
        Assert.True(reply.IsCompleted, "the handler ran, and replied, before the host's stop completed");
        Assert.Equal(5, await reply);
        Assert.Single(await ReadAllAsync(journal.Inner, "counter"));
    }

    [Fact]
    public async Task Stopping_gives_up_on_a_stalled_write_after_the_drain_timeout()
    {
        FailingJournal journal = null!;
        var builder = NewBuilder(("Recall:DrainTimeout", "00:00:00.300"));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall"), o => o.UsePersistence(p => p
            .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))))
            .AddActor<Counter>("counter");
        using var host = builder.Build();
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        journal.StallWrites();
        try
        {
            _ = host.Services.GetRequiredService<ActorRegistry>().Get("counter").Ask<int>(new Add(5), s_timeout);
            await WaitUntilAsync(() => journal.StalledCount == 1);

            var watch = System.Diagnostics.Stopwatch.StartNew();
            await host.StopAsync().WaitAsync(s_timeout);

            Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(290), s_timeout);
            Assert.True(system.WhenTerminated.IsCompleted);
        }
        finally
        {
            journal.ReleaseStalled();
        }
    }

    [Theory]
    [InlineData("Recall:Store", "mysql", "Recall:Store")]
    [InlineData("Recall:SystemName", "my shop", "Recall:SystemName")]
    [InlineData("Recall:Persistence:MaxBatchSize", "0", "Recall:Persistence:MaxBatchSize")]
    [InlineData("Recall:Persistence:JournalCallTimeout", "soon", "Recall:Persistence:JournalCallTimeout")]
    [InlineData("Recall:Persistence:RecoveryEventTimeout", "-00:00:01", "Recall:Persistence:RecoveryEventTimeout")]
    [InlineData("Recall:DrainTimeout", "-00:00:01", "Recall:DrainTimeout")]
    [InlineData("Recall:Sqlite:Path", "", "Recall:Sqlite:Path")]
    [InlineData("Recall:Sqlite:BusyTimeout", "-00:00:01", "Recall:Sqlite:BusyTimeout")]
    [InlineData("Recall:Sqlite:Pth", "x.db", "Pth")]
    [InlineData("Recall:Stroe", "sqlite", "Stroe")]
    public async Task A_wrong_setting_stops_the_start_with_an_error_naming_its_key(string key, string value, string named)
    {
        var builder = NewBuilder(("Recall:Store", "sqlite"), ("Recall:Sqlite:Path", "unused.db"), (key, value));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UseSqlite().UsePostgreSql();
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains(named, error.Message);
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "unused.db")));
    }

    [Theory]
    [InlineData("postgresql")]
    [InlineData("postgres")]
    [InlineData("PostgreSQL")]
    public async Task The_store_is_named_postgresql_or_postgres_in_any_case(string name)
    {
        var builder = NewBuilder(("Recall:Store", name), ("Recall:PostgreSql:ConnectionString", "Host=localhost;Database=shop;Username=app"));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UsePostgreSql().UseSqlite(); // sqlite added last, but configuration chooses
        using var host = builder.Build();

        await using var system = host.Services.GetRequiredService<ActorSystem>(); // creating it connects to nothing
        Assert.IsType<PostgreSqlJournal>(system.Persistence().Journal);
    }

    [Fact]
    public async Task Without_Recall_Store_the_store_added_last_runs_and_memory_is_always_there()
    {
        var path = Path.Combine(Path.GetTempPath(), $"recall-hosting-{Guid.NewGuid():N}.db");
        async Task<Type> JournalTypeAsync(params (string, string?)[] settings)
        {
            var builder = NewBuilder([("Recall:PostgreSql:ConnectionString", "Host=localhost;Database=shop;Username=app"), ("Recall:Sqlite:Path", path), .. settings]);
            builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UsePostgreSql().UseSqlite();
            using var host = builder.Build();
            await using var system = host.Services.GetRequiredService<ActorSystem>();
            return system.Persistence().Journal.GetType();
        }

        try
        {
            Assert.Equal(typeof(SqliteJournal), await JournalTypeAsync());
            Assert.Equal(typeof(InMemoryJournal), await JournalTypeAsync(("Recall:Store", "Memory")));
            Assert.Equal(typeof(SqliteJournal), await JournalTypeAsync(("Recall:Store", " sqlite ")));
        }
        finally
        {
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task A_wrong_store_name_is_refused_in_one_line_that_names_the_valid_ones()
    {
        var builder = NewBuilder(("Recall:Store", "postgress"));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UseSqlite().UsePostgreSql();
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.StartsWith("Recall:Store is 'postgress', which is not a store of this host: use memory, sqlite or postgresql (postgres also works). ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_store_whose_package_added_nothing_is_refused_with_how_to_add_it()
    {
        var builder = NewBuilder(("Recall:Store", "postgresql"), ("Recall:PostgreSql:ConnectionString", "Host=localhost"));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UseSqlite();
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        // Its settings are unknown keys while its package did not add it; the store's name is not a store of this host.
        Assert.Contains("PostgreSql", error.Message, StringComparison.Ordinal);
        Assert.Contains("UsePostgreSql()", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "Recall:PostgreSql:ConnectionString")]
    [InlineData("Host=", "Recall:PostgreSql:ConnectionString")]
    [InlineData("Host=localhost;Unknown Keyword=1", "Recall:PostgreSql:ConnectionString")]
    public async Task A_wrong_postgresql_setting_names_its_key(string? connectionString, string named)
    {
        var builder = NewBuilder(("Recall:Store", "postgresql"), ("Recall:PostgreSql:ConnectionString", connectionString));
        builder.Services.AddRecall(builder.Configuration.GetSection("Recall")).UsePostgreSql();
        using var host = builder.Build();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());

        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void Registering_two_actors_with_one_name_is_an_error()
    {
        var services = new ServiceCollection();
        var recall = services.AddRecall().AddActor<Greeter>("greeter", "Hi");

        Assert.Throws<ArgumentException>(() => recall.AddActor("greeter", _ => Props.Create(() => new Greeter(new GreetingFormatter(), "Yo"))));
    }

    [Fact]
    public async Task A_persistent_actor_whose_database_is_not_up_at_start_comes_back_once_it_answers()
    {
        FailingJournal journal = null!;
        var builder = NewBuilder();
        builder.Services.AddRecall(o => o.UsePersistence(p => p
            .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))))
            .AddActor<Counter>("counter", o => o.MinBackoff = TimeSpan.FromMilliseconds(50));
        using var host = builder.Build();
        _ = host.Services.GetRequiredService<ActorSystem>(); // creates the journal
        journal.Fail(StoreOperation.ReadHighestSequenceNumber, "counter", times: 2); // two recoveries fail
        await host.StartAsync();
        var counter = host.Services.GetRequiredService<ActorRegistry>().Get("counter");

        var total = await EventuallyAsync(() => counter.Ask<int>(new Add(5), s_timeout));

        Assert.Equal(5, total);
        Assert.True(journal.CallCount(StoreOperation.ReadHighestSequenceNumber) >= 3, "recovered on the third start");
        Assert.EndsWith("/user/counter", counter.Path.ToString(), StringComparison.Ordinal); // the supervisor, which forwards
        await host.StopAsync();
    }

    [Fact]
    public async Task Without_Restart_a_persistent_actor_whose_recovery_failed_stays_stopped()
    {
        FailingJournal journal = null!;
        var builder = NewBuilder();
        builder.Services.AddRecall(o => o.UsePersistence(p => p
            .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))))
            .AddActor<Counter>("counter", o => o.Restart = false);
        using var host = builder.Build();
        var system = host.Services.GetRequiredService<ActorSystem>();
        journal.Fail(StoreOperation.ReadHighestSequenceNumber, "counter", times: 1);
        var probe = new TestProbe(system);
        await host.StartAsync();
        var counter = host.Services.GetRequiredService<ActorRegistry>().Get("counter");
        probe.Watch(counter);

        await probe.ExpectTerminatedAsync(counter);
        var error = await Assert.ThrowsAsync<AskFailedException>(() => counter.Ask<int>(new GetTotal(), s_timeout));
        Assert.Contains("its recovery failed", error.Reason, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_critical_actor_that_gives_up_stops_the_host_with_exit_code_1_and_a_normal_stop_does_not()
    {
        async Task<int> RunAsync(bool failing)
        {
            FailingJournal journal = null!;
            var builder = NewBuilder();
            builder.Services.AddRecall(o => o.UsePersistence(p => p
                .UseJournal(s => journal = new FailingJournal(new InMemoryJournal(s)))))
                .AddActor<Counter>("counter", o =>
                {
                    o.MinBackoff = TimeSpan.FromMilliseconds(20);
                    o.MaxRestarts = 2;
                    o.Critical = true;
                });
            using var host = builder.Build();
            _ = host.Services.GetRequiredService<ActorSystem>();
            if (failing)
            {
                journal.Fail(StoreOperation.ReadHighestSequenceNumber, "counter"); // every recovery fails
            }

            try
            {
                await host.StartAsync();
                if (failing)
                {
                    await host.WaitForShutdownAsync().WaitAsync(s_timeout); // nobody stops it but the critical actor
                }
                else
                {
                    Assert.Equal(5, await host.Services.GetRequiredService<ActorRegistry>().Get("counter").Ask<int>(new Add(5), s_timeout));
                    await host.StopAsync();
                }

                return Environment.ExitCode;
            }
            finally
            {
                Environment.ExitCode = 0;
            }
        }

        Assert.Equal(1, await RunAsync(failing: true));
        Assert.Equal(0, await RunAsync(failing: false));
    }

    [Fact]
    public void Wrong_backoff_settings_are_refused_at_registration_naming_the_actor()
    {
        var recall = new ServiceCollection().AddRecall();

        var error = Assert.Throws<ArgumentException>(() => recall.AddActor<Counter>("counter", o => o.MinBackoff = TimeSpan.Zero));

        Assert.Contains("'counter'", error.Message, StringComparison.Ordinal);
        Assert.Contains("MinBackoff", error.Message, StringComparison.Ordinal);
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> attempt)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            try
            {
                return await attempt();
            }
            catch (AskFailedException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20); // down between restarts
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(5);
        }
    }

    private static async Task<List<Recall.Persistence.Journal.PersistentRepr>> ReadAllAsync(Recall.Persistence.Journal.IJournal journal, string persistenceId)
    {
        var events = new List<Recall.Persistence.Journal.PersistentRepr>();
        await foreach (var repr in journal.ReplayAsync(persistenceId, 1, long.MaxValue, long.MaxValue, CancellationToken.None))
        {
            events.Add(repr);
        }

        return events;
    }
}
