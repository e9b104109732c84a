using Microsoft.Extensions.Logging;
using Recall.Diagnostics;

namespace Recall.Actors.Tests;

public sealed class TextLoggerFactoryTests
{
    private static readonly Action<ILogger, Exception?> NotThisOne = LoggerMessage.Define(LogLevel.Information, new EventId(6), "not this one");
    private static readonly Action<ILogger, string, Exception?> Careful = LoggerMessage.Define<string>(LogLevel.Warning, new EventId(7), "careful: {What}");
    private static readonly Action<ILogger, Exception?> Broke = LoggerMessage.Define(LogLevel.Error, new EventId(8), "it broke");

    [Fact]
    public void It_writes_entries_from_its_level_up_one_line_each_with_category_event_and_exception()
    {
        using var writer = new StringWriter();
        using var factory = new TextLoggerFactory(LogLevel.Warning, writer);
        var logger = factory.CreateLogger("Recall.Test");

        NotThisOne(logger, null);
        Careful(logger, "ice", null);
        Broke(logger, new IOException("disk gone"));

        var lines = writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith(" warn Recall.Test[7] careful: ice", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" fail Recall.Test[8] it broke", lines[1], StringComparison.Ordinal);
        Assert.Equal("System.IO.IOException: disk gone", lines[2]);
        Assert.Equal(3, lines.Length);
        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Critical));
    }

    [Fact]
    public void It_refuses_a_provider_and_a_level_that_is_not_one_saying_what_to_use_instead()
    {
        using var factory = new TextLoggerFactory();

        var provider = Assert.Throws<NotSupportedException>(() => factory.AddProvider(new CapturingProvider()));
        Assert.Contains("LoggerFactory.Create", provider.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TextLoggerFactory((LogLevel)42));
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}

/// <summary>What a system with no logger configured does with a failure: it runs alone, since it replaces standard error.</summary>
[Collection(StressTests.Name)]
public sealed class DefaultLoggingTests
{
    private sealed class Fragile : Actor
    {
        protected override void Receive(object message) => throw new InvalidOperationException("the ledger is closed");
    }

    [Fact]
    public async Task With_no_logger_configured_an_actor_failure_is_written_to_standard_error()
    {
        var original = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(TextWriter.Synchronized(captured));
        try
        {
            await using var system = ActorSystem.Create("default-logging");
            var fragile = system.Spawn(Props.Create(() => new Fragile()), "fragile");

            await Assert.ThrowsAsync<AskFailedException>(() => fragile.Ask<object>("hello", TimeSpan.FromSeconds(30)));
            await system.TerminateAsync();
        }
        finally
        {
            Console.SetError(original);
        }

        var text = captured.ToString();
        Assert.Contains("fail Recall.Actors[1] Actor recall://default-logging/user/fragile failed while handling String; supervisor decided Restart", text, StringComparison.Ordinal);
        Assert.Contains("System.InvalidOperationException: the ledger is closed", text, StringComparison.Ordinal);
    }
}
