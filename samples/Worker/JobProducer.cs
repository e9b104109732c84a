using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Hosting;

namespace Recall.Samples.Worker;

/// <summary>
/// The worker's job: every <c>Worker:Interval</c> it "does" a job and records it in the ledger
/// actor, waiting for the ledger's reply (sent once the event is stored). On stop it reads the
/// ledger one last time. The host stops this service before the actor system.
/// </summary>
public sealed partial class JobProducer(ActorRegistry actors, IConfiguration configuration, ILogger<JobProducer> logger) : BackgroundService
{
    private static readonly TimeSpan s_askTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ledger = actors.Get("jobs");
        var interval = configuration.GetValue("Worker:Interval", TimeSpan.FromMilliseconds(250));
        using var timer = new PeriodicTimer(interval);
        var number = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var jobId = $"job-{DateTimeOffset.UtcNow:HHmmss}-{++number}";
                var done = await ledger.Ask<JobsDone>(replyTo => new CompleteJob(jobId, replyTo), s_askTimeout, stoppingToken);
                Log.JobDone(logger, jobId, done.Count);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }

        var total = await ledger.Ask<JobsDone>(replyTo => new GetJobsDone(replyTo), s_askTimeout, CancellationToken.None);
        Log.Summary(logger, number, total.Count);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"jobs done: {number} in this run, {total.Count} in total"));
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Job {JobId} done; {Count} jobs done in total")]
        public static partial void JobDone(ILogger logger, string jobId, int count);

        [LoggerMessage(2, LogLevel.Information, "Stopping: {InRun} jobs done in this run, {Total} in total")]
        public static partial void Summary(ILogger logger, int inRun, int total);
    }
}

/// <summary>Stops the application after <c>--run-for</c> (e.g. <c>3s</c>, <c>500ms</c>, <c>2m</c> or <c>00:00:03</c>).</summary>
public sealed class StopAfter(TimeSpan duration, IHostApplicationLifetime lifetime) : BackgroundService
{
    /// <summary>Reads a duration such as <c>3s</c>, <c>500ms</c>, <c>2m</c> or <c>00:00:03</c>.</summary>
    /// <exception cref="FormatException">It is none of these.</exception>
    public static TimeSpan Parse(string text)
    {
        text = text.Trim();
        static double Number(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(text[..^2])),
            _ when text.EndsWith('s') => TimeSpan.FromSeconds(Number(text[..^1])),
            _ when text.EndsWith('m') => TimeSpan.FromMinutes(Number(text[..^1])),
            _ when TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) => span,
            _ => throw new FormatException($"--run-for '{text}' is not a duration: use e.g. 3s, 500ms, 2m or 00:00:03."),
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(duration, stoppingToken);
            lifetime.StopApplication();
        }
        catch (OperationCanceledException)
        {
            // Stopped another way first (Ctrl+C).
        }
    }
}
