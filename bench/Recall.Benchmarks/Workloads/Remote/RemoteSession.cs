using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime;
using System.Threading.Channels;
using Recall.Actors;
using Recall.Remoting;

namespace Recall.Benchmarks.Workloads.Remote;

/// <summary>
/// The two nodes of a remote workload: the server node in a child process (this program with
/// <c>--role server</c>, see <see cref="RemoteServer"/>) and the client node, an actor system of
/// this process with remoting on a free loopback port, holding refs to the server's 16 echo and
/// 16 sink actors. One session serves the warm-up and the measured runs of one workload, so the
/// connection and both processes stay warm, as in the anchors.
/// </summary>
internal sealed class RemoteSession : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _server;
    private readonly Channel<string> _serverLines = Channel.CreateUnbounded<string>();
    private readonly Queue<string> _serverErrors = new();
    private readonly ConcurrentDictionary<string, long> _deadLetterReasons = new(StringComparer.Ordinal);
    private readonly MeterListener _deadLetters = new();
    private Action<string> _log = _ => { };
    private ActorSystem? _system;

    private RemoteSession(Process server)
    {
        _server = server;
        var reader = new Thread(() =>
        {
            // a dedicated thread, so the blocking pipe reads never hold a thread-pool thread
            while (server.StandardOutput.ReadLine() is { } line)
            {
                _serverLines.Writer.TryWrite(line);
            }

            _serverLines.Writer.TryComplete();
        })
        { IsBackground = true, Name = "remote-server-stdout" };
        reader.Start();
        var errors = new Thread(() =>
        {
            while (server.StandardError.ReadLine() is { } line)
            {
                lock (_serverErrors)
                {
                    _serverErrors.Enqueue(line);
                    if (_serverErrors.Count > 40)
                    {
                        _serverErrors.Dequeue();
                    }
                }
            }
        })
        { IsBackground = true, Name = "remote-server-stderr" };
        errors.Start();
        Exited = server.WaitForExitAsync();

        // Only remoting's dead-letter counter is listened to (its reason tag says why); the
        // per-frame counters stay disabled, so the hot path does not pay for this.
        _deadLetters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Recall.Remoting" && instrument.Name == "recall.remoting.dead_letters")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _deadLetters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var reason = "?";
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    reason = tag.Value?.ToString() ?? "?";
                }
            }

            _deadLetterReasons.AddOrUpdate(reason, value, (_, count) => count + value);
        });
        _deadLetters.Start();
    }

    /// <summary>The client node.</summary>
    public ActorSystem System => _system ?? throw new InvalidOperationException("the session has not started");

    /// <summary>The server's address, as its <c>@@READY</c> line said.</summary>
    public string ServerAddress { get; private set; } = "";

    /// <summary>The server's echo-0..15 as the client resolved them.</summary>
    public IActorRef[] Echoes { get; } = new IActorRef[RemoteServer.Actors];

    /// <summary>The server's sink-0..15 as the client resolved them.</summary>
    public IActorRef[] Sinks { get; } = new IActorRef[RemoteServer.Actors];

    /// <summary>Completes when the server process exits.</summary>
    public Task Exited { get; }

    /// <summary>Settings read back at run time, for the line's <c>extra.settings</c>.</summary>
    public IReadOnlyDictionary<string, object> Settings { get; private set; } = new Dictionary<string, object>();

    /// <summary>Starts the server process, waits for it, starts the client node and resolves the 32 remote actors (untimed).</summary>
    public static async Task<RemoteSession> StartAsync(BenchOptions options, Action<string> log)
    {
        var clock = Stopwatch.StartNew();
        var port = FreePort();
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            typeof(RemoteSession).Assembly.Location, "--role", "server", "--port", port.ToString(CultureInfo.InvariantCulture),
            "--serializer", options.Serializer, "--remote-queue-capacity", options.RemoteQueueCapacity.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        var session = new RemoteSession(Process.Start(start) ?? throw new BenchCheckException("the server process did not start")) { _log = log };
        try
        {
            var ready = await session.ReadLineAsync(StartTimeout, "its @@READY line");
            if (!ready.StartsWith(RemoteServer.Ready + " ", StringComparison.Ordinal))
            {
                throw new BenchCheckException($"the server said '{ready}' instead of {RemoteServer.Ready}{session.ServerErrors()}");
            }

            session.ServerAddress = ready[(RemoteServer.Ready.Length + 1)..].Trim();
            var serverStarted = clock.Elapsed;
            var serialization = RemoteSerialization.Create(options.Serializer);
            session._system = ActorSystem.Create("bench", o => o.UseRemoting(r =>
            {
                r.Listen("127.0.0.1", 0);
                r.Serialization = serialization;
                r.OutboundQueueCapacity = options.RemoteQueueCapacity;
            }));
            for (var i = 0; i < RemoteServer.Actors; i++)
            {
                session.Echoes[i] = await session.System.ResolveAsync($"{session.ServerAddress}/user/echo-{i}", TimeSpan.FromSeconds(10));
                session.Sinks[i] = await session.System.ResolveAsync($"{session.ServerAddress}/user/sink-{i}", TimeSpan.FromSeconds(10));
            }

            session.Settings = ReadSettings(session.System, options, serialization.Serializer.Serialize(new Ping(0, Ping.Text), typeof(Ping)).Length);
            log($"remote session: server pid {session._server.Id} at {session.ServerAddress} ready after {serverStarted.TotalSeconds:F1} s; " +
                $"client {session.System.Address}; 32 actors resolved after {clock.Elapsed.TotalSeconds:F1} s");
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>A full blocking GC in the server (answered once done); the runner has done the same in this process.</summary>
    public async Task CollectServerGarbageAsync()
    {
        await SendAsync("gc");
        var reply = await ReadLineAsync(CommandTimeout, "the answer to gc");
        Check.That(reply == "@@GC", $"the server answered gc with '{reply}'");
    }

    /// <summary>The server's dead letters, actor failures and Pings its echo actors sent back, so far.</summary>
    public async Task<ServerStats> ServerStatsAsync()
    {
        await SendAsync("stats");
        var reply = await ReadLineAsync(CommandTimeout, "the answer to stats");
        var parts = reply.Split(' ');
        Check.That(parts is ["@@STATS", _, _, _], $"the server answered stats with '{reply}'");
        return new ServerStats(
            long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture));
    }

    /// <summary>The CPU time the server process has used (user + system, from /proc on Linux).</summary>
    public TimeSpan ServerCpu()
    {
        _server.Refresh();
        return _server.TotalProcessorTime;
    }

    /// <summary>
    /// Waits for <paramref name="task"/>; fails the run at once when the client node has more
    /// dead letters than <paramref name="deadLetters"/> (a lost message would leave it waiting)
    /// or the server exits, and after <paramref name="timeout"/>.
    /// </summary>
    public async Task WithinAsync(Task task, long deadLetters, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var first = await Task.WhenAny(task, Exited, Task.Delay(TimeSpan.FromMilliseconds(100)));
            if (first == task)
            {
                await task;
                return;
            }

            if (first == Exited)
            {
                throw new BenchCheckException($"the server process exited (code {_server.ExitCode}) before {what}{ServerErrors()}");
            }

            if (System.DeadLetterCount != deadLetters)
            {
                throw new BenchCheckException($"{System.DeadLetterCount - deadLetters} dead letters in the client node ({DeadLetterReasons()}) before {what}");
            }

            if (deadline.Elapsed > timeout)
            {
                var stats = await ServerStatsAsync();
                throw new BenchCheckException(
                    $"timed out after {timeout.TotalSeconds:F0} s: {what} (the server has had {stats.DeadLetters} dead letters and {stats.Failures} actor failures){ServerErrors()}");
            }
        }
    }

    /// <summary>The client node's remoting dead letters so far by reason, for failure messages.</summary>
    public string DeadLetterReasons() =>
        _deadLetterReasons.IsEmpty ? "none from remoting" : "remoting: " + string.Join(", ", _deadLetterReasons.Select(r => $"{r.Key} {r.Value}"));

    /// <summary>Stops the client node, then the server (<c>quit</c>; killed if it does not exit within 30 s).</summary>
    public async ValueTask DisposeAsync()
    {
        _deadLetters.Dispose();
        var clock = Stopwatch.StartNew();
        var clientStopped = TimeSpan.Zero;
        if (_system is { } system)
        {
            _system = null;
            await system.TerminateAsync().WaitAsync(TimeSpan.FromSeconds(30));
            clientStopped = clock.Elapsed;
        }

        if (!_server.HasExited)
        {
            try
            {
                await SendAsync("quit");
                _server.StandardInput.Close();
            }
            catch (IOException)
            {
                // it is exiting already
            }

            try
            {
                await Exited.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                _log("remote session: the server did not exit within 30 s of quit; killed");
                _server.Kill(entireProcessTree: true);
                await Exited;
            }
        }

        _log($"remote session: client node stopped in {clientStopped.TotalSeconds:F1} s, server exited (code {_server.ExitCode}) {(clock.Elapsed - clientStopped).TotalSeconds:F1} s later");
        _server.Dispose();
    }

    private async Task SendAsync(string command)
    {
        await _server.StandardInput.WriteLineAsync(command);
        await _server.StandardInput.FlushAsync();
    }

    private async Task<string> ReadLineAsync(TimeSpan timeout, string what)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _serverLines.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new BenchCheckException($"the server did not send {what} within {timeout.TotalSeconds:F0} s{ServerErrors()}");
        }
        catch (ChannelClosedException)
        {
            await Exited.WaitAsync(TimeSpan.FromSeconds(5));
            throw new BenchCheckException($"the server process ended (code {_server.ExitCode}) before it sent {what}{ServerErrors()}");
        }
    }

    private string ServerErrors()
    {
        lock (_serverErrors)
        {
            return _serverErrors.Count == 0 ? "" : "; server stderr: " + string.Join(" | ", _serverErrors);
        }
    }

    private static Dictionary<string, object> ReadSettings(ActorSystem system, BenchOptions options, int pingBytes)
    {
        var remoting = system.Remoting().Options;
        ThreadPool.GetMinThreads(out var minWorkers, out _);
        return new Dictionary<string, object>
        {
            ["recall_version"] = Version(typeof(ActorSystem).Assembly),
            ["recall_remoting_version"] = Version(typeof(RemotingOptions).Assembly),
            ["grpc_net_client_version"] = Version(typeof(Grpc.Net.Client.GrpcChannel).Assembly),
            ["aspnetcore_version"] = Version(typeof(Microsoft.AspNetCore.Builder.WebApplication).Assembly),
            ["transport"] = "gRPC over HTTP/2 (Kestrel server, Grpc.Net.Client channel), plaintext, one duplex stream per ordered node pair",
            ["tls"] = remoting.Certificate is not null,
            ["max_messages_per_frame"] = remoting.MaxMessagesPerFrame,
            ["max_frame_bytes"] = remoting.MaxFrameBytes,
            ["outbound_queue_capacity"] = remoting.OutboundQueueCapacity,
            ["outbound_queue_capacity_is_default"] = remoting.OutboundQueueCapacity == new RemotingOptions().OutboundQueueCapacity,
            ["serializer"] = RemoteSerialization.Describe(options.Serializer),
            ["ping_payload_bytes"] = pingBytes,
            ["dispatcher"] = ".NET thread pool",
            ["actor_throughput"] = system.Options.Throughput,
            ["gc"] = GCSettings.IsServerGC ? "server" : "workstation",
            ["gc_concurrent"] = !string.Equals(AppContext.GetData("System.GC.Concurrent")?.ToString(), "false", StringComparison.OrdinalIgnoreCase),
            ["threadpool_min_workers"] = minWorkers,
            ["runtime"] = Environment.Version.ToString(),
        };
    }

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString() ?? "?";

    /// <summary>The dotnet host: this process's when it is one (<c>dotnet x.dll</c>), else the one <c>dotnet run</c> names, else "dotnet" on the PATH.</summary>
    internal static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }

        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What the server's <c>stats</c> command reports: totals since it started.</summary>
internal readonly record struct ServerStats(long DeadLetters, long Failures, long Echoed);
