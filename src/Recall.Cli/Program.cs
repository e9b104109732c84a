using Recall.Cli;
using Spectre.Console;

// Ctrl+C cancels the running command (exit code 130) instead of killing the process mid-write.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

var console = AnsiConsole.Console;
if (RecallApp.TableWidth(Environment.GetEnvironmentVariable("COLUMNS"), Console.IsOutputRedirected, () => Console.WindowWidth) is { } width)
{
    console.Profile.Width = width;
}

return await RecallApp.RunAsync(args, console, Console.Error, cancellation.Token);
