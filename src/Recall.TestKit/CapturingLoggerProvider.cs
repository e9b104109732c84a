using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Recall.TestKit;

/// <summary>One captured log call, with its formatted text and structured values.</summary>
/// <param name="Category">The logger's category.</param>
/// <param name="Level">The level it was logged at.</param>
/// <param name="EventId">The event id.</param>
/// <param name="Message">The formatted message.</param>
/// <param name="Exception">The exception logged with it, if any.</param>
/// <param name="Values">The structured values of the message template (including <c>{OriginalFormat}</c>).</param>
public sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, Exception? Exception, IReadOnlyDictionary<string, object?> Values);

/// <summary>
/// A logger provider that keeps every entry in memory, so a test can assert what an actor system,
/// a persistent actor or a projection logged: give <see cref="CreateFactory"/>'s factory to
/// <c>ActorSystemOptions.LoggerFactory</c> and read <see cref="Entries"/>.
/// </summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    /// <summary>Every entry so far, in the order they were logged.</summary>
    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>A logger factory that logs everything (trace and up) into a new capturing provider.</summary>
    /// <param name="provider">The provider that captures the entries.</param>
    public static ILoggerFactory CreateFactory(out CapturingLoggerProvider provider)
    {
        var created = new CapturingLoggerProvider();
        provider = created;
        return LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(created));
    }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = new Dictionary<string, object?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    values[key] = value;
                }
            }

            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), exception, values));
        }
    }
}
