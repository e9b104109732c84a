using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Recall.Diagnostics;

/// <summary>
/// Writes log entries at or above a level, one line each (then the exception, if any), to a
/// <see cref="TextWriter"/>: standard error unless another writer is given. It is what an actor
/// system logs to when nothing else is configured (warnings and errors, so that a first mistake is
/// not silent). For anything more (levels per category, JSON, several outputs) give
/// <see cref="Recall.Actors.ActorSystemOptions.LoggerFactory"/> a factory from Microsoft.Extensions.Logging
/// instead; <c>NullLoggerFactory.Instance</c> silences the system.
/// </summary>
public sealed class TextLoggerFactory : ILoggerFactory
{
    private readonly TextWriter? _writer;
    private readonly Lock _gate = new();

    /// <summary>Creates a factory writing entries from <paramref name="minimumLevel"/> up to <paramref name="writer"/> (standard error when null, looked up at each write).</summary>
    public TextLoggerFactory(LogLevel minimumLevel = LogLevel.Warning, TextWriter? writer = null)
    {
        if (minimumLevel is < LogLevel.Trace or > LogLevel.None)
        {
            throw new ArgumentOutOfRangeException(nameof(minimumLevel), minimumLevel, "Not a log level.");
        }

        MinimumLevel = minimumLevel;
        _writer = writer;
    }

    /// <summary>The lowest level written.</summary>
    public LogLevel MinimumLevel { get; }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new TextLogger(this, categoryName);

    /// <summary>Not supported: combine providers with <c>LoggerFactory.Create</c> from Microsoft.Extensions.Logging.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("TextLoggerFactory writes to one writer; combine providers with LoggerFactory.Create from Microsoft.Extensions.Logging.");

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private void Write(LogLevel level, string category, EventId eventId, string message, Exception? exception)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} {Name(level)} {category}[{eventId.Id}] {message}");
        if (exception is not null)
        {
            line += Environment.NewLine + exception;
        }

        // One write per entry under one lock, so lines of concurrent actors never interleave.
        lock (_gate)
        {
            (_writer ?? Console.Error).WriteLine(line);
        }
    }

    private static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class TextLogger(TextLoggerFactory factory, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= factory.MinimumLevel;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                factory.Write(logLevel, category, eventId, formatter(state, exception), exception);
            }
        }
    }
}
