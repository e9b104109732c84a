using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Journal;
using Recall.Projections;
using Recall.TestKit;

namespace Recall.Hosting.Tests;

/// <summary>Projections registered with AddProjection start with the host, take their services from the container, and stop with it.</summary>
public sealed class ProjectionHostingTests
{
    /// <summary>The read model of the test: a singleton service the projection writes to.</summary>
    public sealed class Totals
    {
        public ConcurrentDictionary<string, int> ByAccount { get; } = new();
    }

    [Fact]
    public async Task A_registered_projection_starts_with_the_host_and_writes_to_a_service_from_the_container()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<Totals>();
        builder.Services.AddRecall(o => o.UsePersistence(p => p.UseInMemory()))
            .AddProjection(services => Projection.AtLeastOnce(
                "totals",
                ProjectionSource.EventsByTag("deposits"),
                new InMemoryProjectionOffsetStore(),
                (envelope, _) =>
                {
                    services.GetRequiredService<Totals>().ByAccount.AddOrUpdate(envelope.PersistenceId, (int)(long)envelope.Event, (_, total) => total + (int)(long)envelope.Event);
                    return Task.CompletedTask;
                }));
        using var host = builder.Build();
        await host.StartAsync();

        var system = host.Services.GetRequiredService<ActorSystem>();
        var handle = host.Services.GetRequiredService<ProjectionRegistry>().Find("totals", "deposits");
        Assert.NotNull(handle);
        var journal = system.Persistence().Journal;
        for (var sequenceNumber = 1; sequenceNumber <= 3; sequenceNumber++)
        {
            var results = await journal.WriteAsync([new AtomicWrite(new PersistentRepr("account|a", sequenceNumber, (long)(sequenceNumber * 10)) { Tags = ["deposits"] })], default);
            Assert.Null(results[0]);
        }

        await handle.WaitForCatchUpAsync().WaitAsync(TestKitSettings.Dilated(TimeSpan.FromSeconds(10)));
        Assert.Equal(60, host.Services.GetRequiredService<Totals>().ByAccount["account|a"]);
        Assert.Equal(ProjectionState.Running, handle.Status.State);

        await host.StopAsync();
        Assert.True(system.WhenTerminated.IsCompleted);
        Assert.Null(host.Services.GetRequiredService<ProjectionRegistry>().Find("totals", "deposits"));
    }
}
