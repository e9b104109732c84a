using System.Collections.Concurrent;
using System.Diagnostics;

namespace Recall.Cluster.Tests;

/// <summary>A node process and what it printed after its ready line.</summary>
internal sealed record Node(Process Process, string Address, ConcurrentQueue<string> Lines)
{
    public bool StartedTicker => Lines.Any(l => l.StartsWith("@@TICKER start", StringComparison.Ordinal));
}

/// <summary>
/// Cluster nodes in child processes (Recall.Cluster.TestNode) sharing a SQLite file, with leases
/// and DownAfter of <paramref name="seconds"/>: started, signalled, and killed when disposed.
/// </summary>
internal sealed class NodeProcesses(double seconds) : IDisposable
{
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
        }
    }

    /// <summary>
    /// SIGSTOPs <paramref name="process"/> at a moment it holds no write lock on the SQLite file: a
    /// process frozen inside a write transaction would stop every writer of the file (a limit of
    /// SQLite shared by processes, not of the cluster), so a pause that caught one is undone and tried again.
    /// </summary>
    /// <returns>False when the process exited before it could be paused (a node that counted itself out).</returns>
    public static async Task<bool> PauseOutsideWritesAsync(Process process, string file)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (!Signal(process, "STOP"))
            {
                return false;
            }

            await Task.Delay(20); // the signal is delivered by now
            using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False;Default Timeout=1"))
            {
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA busy_timeout = 1000; SELECT count(*) FROM cluster_members; BEGIN IMMEDIATE; UPDATE recall_schema SET version = version; COMMIT;";
                try
                {
                    command.ExecuteNonQuery();
                    return true;
                }
                catch (Microsoft.Data.Sqlite.SqliteException exception) when (exception.SqliteErrorCode == 5)
                {
                    // SQLITE_BUSY: paused inside a write; let it finish
                }
            }

            if (!Signal(process, "CONT"))
            {
                return false;
            }

            await Task.Delay(20);
        }

        Assert.Fail("the node could not be paused outside a write in 50 attempts");
        return false;
    }

    /// <summary>Sends <paramref name="signal"/>; false when the process had exited already.</summary>
    public static bool Signal(Process process, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0 && process.HasExited)
        {
            return false;
        }

        Assert.Equal(0, kill.ExitCode);
        return true;
    }

    /// <summary>Starts a node process (mode "ticker" or "shards", or none) and waits for its ready line; <paramref name="isolated"/> runs it in its own network namespace.</summary>
    public async Task<Node> StartAsync(string name, string file, string? mode = null, bool isolated = false, int? port = null)
    {
        var start = new ProcessStartInfo(isolated ? "unshare" : "dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (isolated)
        {
            // its own network namespace: it reaches the SQLite file, but no other node, and none reaches it
            start.ArgumentList.Add("--net");
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Recall.Cluster.TestNode.dll"));
        start.ArgumentList.Add(name);
        start.ArgumentList.Add((port ?? FreePort()).ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.ArgumentList.Add(file);
        start.ArgumentList.Add(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (mode is not null)
        {
            start.ArgumentList.Add(mode);
        }

        var process = Process.Start(start)!;
        _processes.Add(process);
        var errors = DrainErrors(process);
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(line?.StartsWith("@@READY ", StringComparison.Ordinal), $"node {name} did not start: {line} {await ReadErrorAsync(process, errors)}");
        var lines = new ConcurrentQueue<string>();
        _ = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } next)
            {
                lines.Enqueue(next);
            }
        });
        return new Node(process, line!["@@READY ".Length..], lines);
    }

    /// <summary>
    /// Reads the node's standard error as it comes (its log: a pipe nobody reads fills up and blocks
    /// the node), keeping the last lines for a failure message.
    /// </summary>
    private static (Task Done, ConcurrentQueue<string> Lines) DrainErrors(Process process)
    {
        var lines = new ConcurrentQueue<string>();
        var done = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lines.Enqueue(line);
                while (lines.Count > 200 && lines.TryDequeue(out _))
                {
                }
            }
        });
        return (done, lines);
    }

    private static async Task<string> ReadErrorAsync(Process process, (Task Done, ConcurrentQueue<string> Lines) errors)
    {
        if (process.HasExited)
        {
            await errors.Done.WaitAsync(TimeSpan.FromSeconds(10));
        }

        return string.Join(Environment.NewLine, errors.Lines);
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
