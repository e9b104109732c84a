using System.Diagnostics;
using Recall.Actors;

namespace Recall.Remoting.Tests;

/// <summary>A node in a child process (Recall.Remoting.TestNode), for kill -9 and restarts.</summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, Address address, long incarnation)
    {
        _process = process;
        Address = address;
        Incarnation = incarnation;
    }

    public Address Address { get; }

    public long Incarnation { get; }

    public int Pid => _process.Id;

    public static async Task<NodeProcess> StartAsync(string system, int port)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Recall.Remoting.TestNode.dll"));
        start.ArgumentList.Add(system);
        start.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");

        // Its log goes to standard error: read it as it comes, or a full pipe would block the node.
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var drained = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } next)
            {
                errors.Enqueue(next);
                while (errors.Count > 200 && errors.TryDequeue(out _))
                {
                }
            }
        });
        var ready = process.StandardOutput.ReadLineAsync();
        if (await Task.WhenAny(ready, Task.Delay(Nodes.Timeout * 3)) != ready || await ready is not { } line || !line.StartsWith("@@READY ", StringComparison.Ordinal))
        {
            process.Kill(entireProcessTree: true);
            await drained.WaitAsync(TimeSpan.FromSeconds(10));
            throw new InvalidOperationException($"The test node did not start: {string.Join(Environment.NewLine, errors)}");
        }

        var parts = line.Split(' ');
        return new NodeProcess(process, ActorPath.Parse(parts[1]).Address, long.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGKILL: no goodbye, no flushing.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
