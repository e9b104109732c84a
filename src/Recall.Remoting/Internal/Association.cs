using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Actors.Internal;

namespace Recall.Remoting.Internal;

/// <summary>
/// The way to one incarnation of another node: a bounded queue of outbound records and the loop
/// that writes them, in batches, on one gRPC stream, reconnecting with backoff. When the peer
/// stays unreachable for <see cref="RemotingOptions.NodeGoneAfter"/>, restarts as a new
/// incarnation or says it leaves, the association is gone for good: its queue becomes dead
/// letters, watchers of its actors get <c>Terminated</c>, and nothing is sent to it again.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stop token is cancelled, never disposed: it has no timer and other threads may still cancel it.")]
internal sealed partial class Association
{
    private readonly RemoteTransport _transport;
    private readonly Channel<Outbound> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<RemoteActorRef, HashSet<IInternalActorRef>> _watches = [];
    private readonly HashSet<(IInternalActorRef Subject, RemoteActorRef Watcher)> _watchedHere = [];
    private readonly ConcurrentDictionary<long, TaskCompletionSource<bool>> _identifies = new();
    private long _incarnation;
    private int _gone;
    private Task _loop = Task.CompletedTask;

    public Association(RemoteTransport transport, Address remote, long expectedIncarnation)
    {
        _transport = transport;
        Remote = remote;
        _incarnation = expectedIncarnation;
        _queue = Channel.CreateBounded<Outbound>(new BoundedChannelOptions(transport.Options.OutboundQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the overflow becomes dead letters
        });
    }

    public Address Remote { get; }

    /// <summary>The peer's incarnation, 0 until the first handshake.</summary>
    public long Incarnation => Interlocked.Read(ref _incarnation);

    /// <summary>Learns the peer's run from its inbound stream, when this association does not know it yet.</summary>
    public void Learn(long incarnation) => Interlocked.CompareExchange(ref _incarnation, incarnation, 0);

    public bool IsGone => Volatile.Read(ref _gone) != 0;

    public bool IsConnected { get; private set; }

    public int QueueDepth => _queue.Reader.Count;

    public void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Queues a record; when the peer is gone or the queue is full a message becomes a dead letter.</summary>
    public void Send(in Outbound item)
    {
        if (IsGone)
        {
            Undeliverable(item, DeadLetterReason.PeerGone);
            return;
        }

        if (!_queue.Writer.TryWrite(item))
        {
            Undeliverable(item, IsGone ? DeadLetterReason.PeerGone : DeadLetterReason.QueueFull);
        }
    }

    public void Watch(RemoteActorRef subject, IInternalActorRef watcher)
    {
        lock (_watches)
        {
            if (!IsGone)
            {
                if (!_watches.TryGetValue(subject, out var watchers))
                {
                    _watches[subject] = watchers = [];
                }

                watchers.Add(watcher);
                Send(new Outbound(RecordKind.Watch, subject, null, null, watcher.Path, 0));
                return;
            }
        }

        watcher.SendSystemMessage(new DeathWatchNotification(subject)); // its node is gone already
    }

    public void Unwatch(RemoteActorRef subject, IInternalActorRef watcher)
    {
        lock (_watches)
        {
            if (_watches.TryGetValue(subject, out var watchers) && watchers.Remove(watcher))
            {
                if (watchers.Count == 0)
                {
                    _watches.Remove(subject);
                }

                Send(new Outbound(RecordKind.Unwatch, subject, null, null, watcher.Path, 0));
            }
        }
    }

    /// <summary>The remote actor stopped: its local watcher learns of it, and it is no longer watched.</summary>
    public void Terminated(RemoteActorRef subject, IInternalActorRef watcher)
    {
        lock (_watches)
        {
            if (_watches.TryGetValue(subject, out var watchers) && watchers.Remove(watcher) && watchers.Count == 0)
            {
                _watches.Remove(subject);
            }
        }

        watcher.SendSystemMessage(new DeathWatchNotification(subject));
    }

    /// <summary>
    /// After a (re)connection: sends every watch again. A Watch or Terminated record lost with a
    /// broken connection would leave a watcher waiting forever; watching twice is harmless, and an
    /// actor that stopped meanwhile answers Terminated at once.
    /// </summary>
    private void WatchAgain()
    {
        lock (_watches)
        {
            foreach (var (subject, watchers) in _watches)
            {
                foreach (var watcher in watchers)
                {
                    _queue.Writer.TryWrite(new Outbound(RecordKind.Watch, subject, null, null, watcher.Path, 0));
                }
            }
        }
    }

    public async Task<bool> IdentifyAsync(ActorPath path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var request = _transport.NextRequest(); // unique per node: a late reply to a gone association cannot answer a new one
        var reply = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _identifies[request] = reply;
        try
        {
            Send(new Outbound(RecordKind.Identify, null, null, null, null, request, path));
            if (IsGone)
            {
                throw new ActorNotFoundException(path, $"its node {Remote} is gone");
            }

            return await reply.Task.WaitAsync(timeout, _transport.System.TimeProvider, cancellationToken);
        }
        catch (TimeoutException exception)
        {
            throw new ActorNotFoundException(path, $"its node {Remote} did not answer within {timeout.TotalSeconds:0.#} s", exception);
        }
        catch (TaskCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ActorNotFoundException(path, $"its node {Remote} is gone", exception);
        }
        finally
        {
            _identifies.TryRemove(request, out _);
        }
    }

    public void Identified(long request, bool found)
    {
        if (_identifies.TryGetValue(request, out var reply))
        {
            reply.TrySetResult(found);
        }
    }

    /// <summary>Declares this incarnation of the peer gone, once: dead letters, Terminated for every watch, failed identifies.</summary>
    public void Quarantine(string reason)
    {
        if (Interlocked.Exchange(ref _gone, 1) != 0)
        {
            return;
        }

        Log.PeerGone(_transport.Logger, Remote, Incarnation, reason);
        _transport.Forget(this);
        _stop.Cancel();
        _queue.Writer.TryComplete();
        List<(RemoteActorRef Subject, IInternalActorRef Watcher)> watches = [];
        lock (_watches)
        {
            foreach (var (subject, watchers) in _watches)
            {
                foreach (var watcher in watchers)
                {
                    watches.Add((subject, watcher));
                }
            }

            _watches.Clear();
        }

        foreach (var (subject, watcher) in watches)
        {
            watcher.SendSystemMessage(new DeathWatchNotification(subject));
        }

        // The peer's actors watched local ones: they are gone, so are their watches.
        List<(IInternalActorRef Subject, RemoteActorRef Watcher)> watchedHere;
        lock (_watchedHere)
        {
            watchedHere = [.. _watchedHere];
            _watchedHere.Clear();
        }

        foreach (var (subject, watcher) in watchedHere)
        {
            subject.SendSystemMessage(new Unwatch(watcher));
        }

        foreach (var reply in _identifies.Values)
        {
            reply.TrySetCanceled();
        }

        while (_queue.Reader.TryRead(out var item))
        {
            Undeliverable(item, DeadLetterReason.PeerGone);
        }
    }

    /// <summary>An actor of the peer watches the local <paramref name="subject"/> (false: no longer); forgotten with an Unwatch when the peer is gone.</summary>
    public void WatchedHere(IInternalActorRef subject, RemoteActorRef watcher, bool watching)
    {
        lock (_watchedHere)
        {
            if (watching && !IsGone)
            {
                _watchedHere.Add((subject, watcher));
            }
            else
            {
                _watchedHere.Remove((subject, watcher));
            }
        }
    }

    /// <summary>How many watches of local actors the peer's actors hold (for tests and diagnostics).</summary>
    public int WatchedHereCount
    {
        get
        {
            lock (_watchedHere)
            {
                return _watchedHere.Count;
            }
        }
    }

    /// <summary>Sends what is queued (for up to <paramref name="timeout"/>), says that this node leaves, and stops.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (!IsGone && IsConnected)
        {
            _queue.Writer.TryWrite(new Outbound(RecordKind.Leaving, null, null, null, null, 0, ActorPath.Root(Remote)));
        }

        _queue.Writer.TryComplete();
        try
        {
            await _loop.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
        }

        _stop.Cancel();
        await _loop.ContinueWith(static _ => { }, TaskScheduler.Default);
    }

    private void Undeliverable(in Outbound item, DeadLetterReason reason)
    {
        if (item.Kind == RecordKind.Message)
        {
            _transport.DeadLetter(item.Message!, item.Sender, item.Target!, reason);
        }
        else if (item.Kind == RecordKind.Watch && _transport.System.LookupLocal(item.Other!) is { } watcher)
        {
            // A watch that cannot be sent must not leave the watcher waiting forever.
            watcher.SendSystemMessage(new DeathWatchNotification(item.Target!));
        }
    }

    private async Task RunAsync()
    {
        var options = _transport.Options;
        var clock = _transport.System.TimeProvider;
        var backoff = options.ReconnectMinBackoff;
        long? unreachableSince = null;
        var writer = new FrameWriter();
        var tables = new OutboundTables(options.PathTableCapacity);
        var batch = new List<Outbound>(); // the messages of the frame being written: dead letters if the write fails
        while (!_stop.IsCancellationRequested)
        {
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            AsyncDuplexStreamingCall<Frame, Frame>? call = null;
            try
            {
                call = _transport.Connect(Remote, connection.Token);
                var headers = await call.ResponseHeadersAsync.WaitAsync(TimeSpan.FromSeconds(5), clock, connection.Token);
                var incarnation = long.Parse(headers.GetValue(Transport.IncarnationHeader) ?? "0", CultureInfo.InvariantCulture);
                if (incarnation == 0)
                {
                    throw new InvalidOperationException($"{Remote} did not say its incarnation: it is not a Recall node, or another system.");
                }

                var known = Interlocked.CompareExchange(ref _incarnation, incarnation, 0);
                if (known != 0 && known != incarnation)
                {
                    Quarantine($"it restarted (incarnation {known} is now {incarnation})");
                    _transport.AssociationFor(Remote, incarnation);
                    return;
                }

                if (_transport.IsQuarantined(Remote, incarnation))
                {
                    Quarantine("this incarnation was declared gone before");
                    return;
                }

                IsConnected = true;
                unreachableSince = null;
                backoff = options.ReconnectMinBackoff;
                tables.Clear();
                Log.Connected(_transport.Logger, Remote, incarnation);
                WatchAgain();
                var responseEnded = WatchStreamAsync(call, connection);
                while (await _queue.Reader.WaitToReadAsync(connection.Token))
                {
                    writer.Reset();
                    batch.Clear();
                    while (batch.Count < options.MaxMessagesPerFrame && writer.Length < options.MaxFrameBytes / 2 && _queue.Reader.TryRead(out var item))
                    {
                        if (_transport.Encode(item, writer, tables))
                        {
                            batch.Add(item);
                        }
                    }

                    if (writer.Length > 0)
                    {
                        await call.RequestStream.WriteAsync(new Frame(writer.Written), connection.Token);
                        _transport.Metrics.Sent(this, batch.Count, writer.Length);
                        batch.Clear();
                    }
                }

                // The queue was completed: this node stops. The peer ends its response once it has read
                // every frame; cancelling the call before that could discard frames still in flight.
                await call.RequestStream.CompleteAsync();
                await responseEnded.WaitAsync(TimeSpan.FromSeconds(2), clock, CancellationToken.None);
                return;
            }
            catch (Exception exception) when (!_stop.IsCancellationRequested)
            {
                if (IsConnected || unreachableSince is null)
                {
                    Log.Disconnected(_transport.Logger, Remote, exception.GetBaseException().Message);
                }

                // The frame whose write failed may or may not have arrived; its messages count as lost.
                foreach (var lost in batch)
                {
                    _transport.DeadLetter(lost.Message!, lost.Sender, lost.Target!, DeadLetterReason.ConnectionLost);
                }

                batch.Clear();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                IsConnected = false;
                call?.Dispose();
            }

            unreachableSince ??= clock.GetTimestamp();
            if (clock.GetElapsedTime(unreachableSince.Value) >= options.NodeGoneAfter)
            {
                Quarantine($"unreachable for {options.NodeGoneAfter.TotalSeconds:0.#} s");
                return;
            }

            try
            {
                var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
                await Task.Delay(backoff * jitter, clock, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.ReconnectMaxBackoff.Ticks));
        }
    }

    /// <summary>The peer never writes on this stream; it ends when the connection does, which stops the writer at once.</summary>
    private static async Task WatchStreamAsync(AsyncDuplexStreamingCall<Frame, Frame> call, CancellationTokenSource connection)
    {
        try
        {
            while (await call.ResponseStream.MoveNext(connection.Token))
            {
            }
        }
        catch (Exception)
        {
            // the reason shows up in the writer
        }

        try
        {
            connection.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Remoting: connected to {Peer} (incarnation {Incarnation})")]
        public static partial void Connected(ILogger logger, Address peer, long incarnation);

        [LoggerMessage(2, LogLevel.Warning, "Remoting: connection to {Peer} lost or refused: {Reason}; reconnecting with backoff")]
        public static partial void Disconnected(ILogger logger, Address peer, string reason);

        [LoggerMessage(3, LogLevel.Warning, "Remoting: {Peer} (incarnation {Incarnation}) is gone: {Reason}. Its queued messages are dead letters and its watchers got Terminated")]
        public static partial void PeerGone(ILogger logger, Address peer, long incarnation, string reason);
    }
}
