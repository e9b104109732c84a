// A worker service on Recall: the host starts the actor system (settings from appsettings.json:
// SQLite in recall-worker.db next to the program), a BackgroundService sends commands to a
// persistent actor, and on stop the writes in flight finish before the system terminates.
//
//   dotnet run --project samples/Worker                  runs until Ctrl+C
//   dotnet run --project samples/Worker -- --run-for 3s  runs for three seconds
//
// Run it twice: the ledger recovers the jobs of the earlier runs from the database.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Recall.Hosting;
using Recall.Samples.Worker;

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory, // appsettings.json and the database sit next to the program
});

builder.Services
    .AddRecall(builder.Configuration.GetSection("Recall"), recall => recall
        .UsePersistence(persistence => persistence.Events.RegisterAssemblyOf<JobLedger>()))
    .UseSqlite()                                     // settings from Recall:Sqlite
    .AddActor<JobLedger>("jobs");
builder.Services.AddHostedService<JobProducer>();

if (builder.Configuration["run-for"] is { } runFor)
{
    var duration = StopAfter.Parse(runFor);
    builder.Services.AddHostedService(services => new StopAfter(duration, services.GetRequiredService<IHostApplicationLifetime>()));
}

await builder.Build().RunAsync();
