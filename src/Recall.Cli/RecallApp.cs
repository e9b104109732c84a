using System.Reflection;
using System.Text.RegularExpressions;
using Recall.Persistence.PostgreSql;
using Recall.Persistence.Sqlite;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Recall.Cli;

/// <summary>
/// The <c>recall</c> tool: the commands of every <see cref="ICommandModule"/> in this assembly, and
/// one error policy for all of them: an error is one line on the error writer (no stack trace) and a
/// non-zero exit code: 2 for a command line that cannot be parsed, 1 for everything else.
/// </summary>
internal static partial class RecallApp
{
    /// <summary>Exit code of a command line that cannot be parsed or validated.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a command that was cancelled (Ctrl+C), as a shell reports SIGINT.</summary>
    public const int Cancelled = 130;

    /// <summary>Runs one command line; returns the exit code.</summary>
    /// <param name="args">The arguments after the program name.</param>
    /// <param name="console">Where commands write their output (tables, progress).</param>
    /// <param name="error">Where an error line goes.</param>
    /// <param name="cancellationToken">Cancels the running command.</param>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, IAnsiConsole console, TextWriter error, CancellationToken cancellationToken = default)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("recall");
            config.UseAssemblyInformationalVersion();
            config.ConfigureConsole(console);
            config.UseStrictParsing();
            config.SetExceptionHandler((exception, _) => Report(exception, error));
            foreach (var module in Modules())
            {
                module.Register(config);
            }
        });

        try
        {
            return await app.RunAsync(args, cancellationToken);
        }
        catch (Exception exception)
        {
            // The exception handler sees what the commands throw; this is for anything thrown around them.
            return Report(exception, error);
        }
    }

    /// <summary>
    /// The width tables take, when it is not the terminal's own: <c>COLUMNS</c> when set to a
    /// number; else, when the output is piped (to a file, <c>less</c>, <c>grep</c>), the width of
    /// the terminal the tool runs in, if any; null to leave it to the console (a terminal's width,
    /// or 80 columns with no terminal at all).
    /// </summary>
    /// <param name="columns">The <c>COLUMNS</c> variable.</param>
    /// <param name="outputRedirected">Whether standard output is not a terminal.</param>
    /// <param name="terminalWidth">Reads the terminal's width; 0 or an exception when there is none.</param>
    internal static int? TableWidth(string? columns, bool outputRedirected, Func<int> terminalWidth)
    {
        if (int.TryParse(columns, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var width) && width > 0)
        {
            return width;
        }

        if (!outputRedirected)
        {
            return null;
        }

        try
        {
            return terminalWidth() is > 0 and var terminal ? terminal : null;
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Every command module of the tool, in help order. Found by reflection so that a new command is
    /// one new file; this is a command-line tool, not the runtime path of the library.
    /// </summary>
    internal static IReadOnlyList<ICommandModule> Modules() =>
    [
        .. typeof(RecallApp).Assembly.GetTypes()
            .Where(type => type is { IsClass: true, IsAbstract: false } && typeof(ICommandModule).IsAssignableFrom(type))
            .Select(type => (ICommandModule)Activator.CreateInstance(type, nonPublic: true)!)
            .OrderBy(module => module.Order)
            .ThenBy(module => module.GetType().Name, StringComparer.Ordinal),
    ];

    private static int Report(Exception exception, TextWriter error)
    {
        if (exception is TargetInvocationException { InnerException: { } inner })
        {
            exception = inner;
        }

        var (message, code) = exception switch
        {
            CommandAppException => ($"{exception.Message} (see --help)", UsageError),
            CliException cli => (cli.Message, cli.ExitCode),
            SqliteStoreException or PostgreSqlStoreException => (exception.Message, 1),
            OperationCanceledException => ("cancelled", Cancelled),
            _ => ($"{exception.GetType().Name}: {exception.Message}", 1),
        };
        error.WriteLine($"recall: {OneLine(message)}");
        error.Flush();
        return code;
    }

    /// <summary>The message on one line, with any password in a connection string masked.</summary>
    internal static string OneLine(string message) =>
        Password().Replace(string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)), "$1=***");

    [GeneratedRegex(@"(?i)\b(password|pwd)\s*=\s*('[^']*'|""[^""]*""|[^;""'\s]*)")]
    private static partial Regex Password();
}

/// <summary>
/// One top-level command (or branch of commands) of the tool, registered in its own file:
/// <see cref="RecallApp"/> finds every implementation, so adding a command is adding a file.
/// </summary>
internal interface ICommandModule
{
    /// <summary>Where the command appears in the help, lower first.</summary>
    int Order { get; }

    /// <summary>Adds the command(s), with description and examples.</summary>
    void Register(IConfigurator app);
}

/// <summary>An error the user can act on: printed as one line, with <see cref="ExitCode"/>.</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    /// <summary>The process exit code: 1 for a failed command, <see cref="RecallApp.UsageError"/> for wrong input.</summary>
    public int ExitCode { get; } = exitCode;
}
