using Recall.Cli;
using Spectre.Console;

// Ctrl+C cancels the running command (exit code 130) instead of killing the process mid-write.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await RecallApp.RunAsync(args, AnsiConsole.Console, Console.Error, cancellation.Token);
