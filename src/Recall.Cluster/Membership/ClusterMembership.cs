using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence.Membership;
using Recall.Remoting;

namespace Recall.Cluster.Membership;

/// <summary>
/// This node's membership: joins through the store, renews its heartbeat every
/// <see cref="ClusterOptions.HeartbeatInterval"/>, marks silent members Down, reads the members
/// and publishes what changed. The store decides; this node only reads its answers. When the node
/// finds itself out (marked Down or replaced), or cannot renew for
/// <see cref="ClusterOptions.DownAfter"/> minus a margin, it terminates its actor system: a
/// member the others count as gone must not keep acting (no zombie).
/// </summary>
internal sealed partial class ClusterMembership : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly ClusterOptions _options;
    private readonly IMembershipStore _store;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly string _address;
    private readonly long _incarnation;
    private readonly Lock _gate = new();
    private readonly Dictionary<Address, Member> _view = [];
    private readonly List<ChannelWriter<MemberEvent>> _streams = [];
    private readonly CancellationTokenSource _stop = new();
    private IActorRef? _publisher;
    private Member[] _members = [];
    private readonly Action _handOver;
    private Task? _heartbeats;
    private Task? _join;
    private ITimer? _deadline;
    private bool _disposed;
    private int _state; // 0 new, 1 joining, 2 joined, 3 out (down or left)

    /// <param name="system">The node.</param>
    /// <param name="options">The cluster's settings.</param>
    /// <param name="incarnation">This run of the node.</param>
    /// <param name="handOver">Stops what the node runs under leases and releases them: called when it leaves or is out.</param>
    public ClusterMembership(ActorSystem system, ClusterOptions options, long incarnation, Action handOver)
    {
        _handOver = handOver;
        _system = system;
        _options = options;
        _store = options.Membership!;
        _clock = system.TimeProvider;
        _logger = system.LoggerFactory.CreateLogger("Recall.Cluster");
        _address = system.Address.ToString();
        _incarnation = incarnation;
    }

    public IReadOnlyList<Member> Members => Volatile.Read(ref _members);

    public Member? Self
    {
        get
        {
            lock (_gate)
            {
                return _view.GetValueOrDefault(_system.Address) is { } self && self.Incarnation == _incarnation ? self : null;
            }
        }
    }

    public bool IsUp => Self?.Status == MemberStatus.Up && Volatile.Read(ref _state) == 2;

    /// <summary>A margin below <see cref="ClusterOptions.DownAfter"/>: a node that could not renew for DownAfter minus this stops before the others may mark it Down.</summary>
    private TimeSpan SelfDownAfter => _options.DownAfter - TimeSpan.FromTicks(Math.Max(_options.HeartbeatInterval.Ticks, _options.DownAfter.Ticks / 5));

    /// <summary>Joins once: later and concurrent callers get the same join.</summary>
    public Task JoinAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_join is null || (_join.IsFaulted && Volatile.Read(ref _state) == 0))
            {
                _join = JoinOnceAsync(cancellationToken);
            }

            return _join;
        }
    }

    private async Task JoinOnceAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new ClusterJoinException($"Node {_address} has left the cluster or was marked down; a node joins once. Start a new actor system to join again.");
        }

        using var joining = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        var written = false;
        try
        {
            var waitUntil = _clock.GetUtcNow() + _options.DownAfter + _options.HeartbeatInterval + _options.HeartbeatInterval;
            long sent;
            while (true)
            {
                sent = _clock.GetTimestamp(); // before the call: the store stamps the heartbeat inside it
                var joined = await CallStoreAsync(ct => _store.TryJoinAsync(_address, _incarnation, _options.Roles, _options.DownAfter, ct), joining.Token);
                if (joined is not null)
                {
                    written = true;
                    break;
                }

                // Another incarnation is live at this address. A node killed a moment ago and restarted
                // goes silent and loses the address within DownAfter; a node that renews keeps it.
                if (_clock.GetUtcNow() > waitUntil)
                {
                    var holder = (await CallStoreAsync(_store.ReadAllAsync, joining.Token)).FirstOrDefault(m => m.Address == _address);
                    throw new ClusterJoinException(
                        $"Another node is live at {_address} (incarnation {holder?.Incarnation}, heartbeat renewed at {holder?.HeartbeatAt:O}): two nodes cannot share an address. Give this node another host or port, or stop the other one.");
                }

                await Task.Delay(_options.HeartbeatInterval, _clock, joining.Token);
            }

            ArmDeadline(sent);
            if (await CallStoreAsync(ct => _store.SetStatusAsync(_address, _incarnation, MemberStatus.Up, ct), joining.Token) is null)
            {
                throw new ClusterJoinException($"Node {_address} was marked down while it joined (a stall longer than ClusterOptions.DownAfter, {_options.DownAfter.TotalSeconds:0.#} s?). Start a new actor system to join again.");
            }

            Apply(await CallStoreAsync(_store.ReadAllAsync, joining.Token));
            if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
            {
                throw new ClusterJoinException($"Node {_address} was taken out of the cluster while it joined (it could not renew in time, or its system is terminating).");
            }

            Log.Joined(_logger, _address, _incarnation, string.Join(", ", _options.Roles));
            _heartbeats = Task.Run(HeartbeatLoopAsync, CancellationToken.None);
        }
        catch (Exception) when (!written && Volatile.Read(ref _state) == 1 && !_stop.IsCancellationRequested)
        {
            // Nothing was written: the node may try again.
            DisarmDeadline();
            Volatile.Write(ref _state, 0);
            throw;
        }
        catch (Exception)
        {
            // Its row was written (or the system is going): this run is out; the others mark the row down
            // unless it is removed here, best effort.
            DisarmDeadline();
            if (Interlocked.Exchange(ref _state, 3) != 3 && written)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(_options.DownAfter);
                    await _store.SetStatusAsync(_address, _incarnation, MemberStatus.Removed, timeout.Token);
                }
                catch (Exception)
                {
                    // its heartbeat goes stale and another member marks it down
                }
            }

            throw;
        }
    }

    /// <summary>Writes Leaving (the caller then has what the node runs handed over).</summary>
    public async Task MarkLeavingAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _state) == 2)
        {
            await MoveSelfAsync(MemberStatus.Leaving, cancellationToken);
        }
    }

    public IAsyncEnumerable<MemberEvent> Events => StreamAsync(CancellationToken.None);

    public void Subscribe(IActorRef subscriber)
    {
        lock (_gate)
        {
            Publisher.Tell(new MemberEventPublisher.Subscribe(subscriber, Current()), null);
        }
    }

    public void Unsubscribe(IActorRef subscriber) => Publisher.Tell(new MemberEventPublisher.Unsubscribe(subscriber), null);

    /// <summary>After the node's actors stopped and its leases were released: Exiting, then Removed, then the event streams end.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        DisarmDeadline();
        if (_join is not null)
        {
            await _join.ContinueWith(_ => { }, TaskScheduler.Default); // its failure was its caller's
        }

        if (_heartbeats is not null)
        {
            await _heartbeats;
        }

        if (Interlocked.CompareExchange(ref _state, 3, 2) == 2)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await MoveSelfAsync(MemberStatus.Exiting, timeout.Token);
                await MoveSelfAsync(MemberStatus.Removed, timeout.Token);
                Log.Left(_logger, _address);
            }
            catch (Exception exception)
            {
                Log.LeaveNotWritten(_logger, exception, _address);
            }
        }

        lock (_gate)
        {
            _disposed = true;
            foreach (var stream in _streams)
            {
                stream.TryComplete();
            }

            _streams.Clear();
        }
    }

    private IActorRef Publisher
    {
        get
        {
            lock (_gate)
            {
                return _publisher ??= _system.SpawnSystemActor(Props.Create(() => new MemberEventPublisher()), "cluster-events");
            }
        }
    }

    private async IAsyncEnumerable<MemberEvent> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<MemberEvent>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            foreach (var current in Current())
            {
                channel.Writer.TryWrite(current);
            }

            if (_disposed)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _streams.Add(channel.Writer);
            }
        }

        try
        {
            await foreach (var changed in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return changed;
            }
        }
        finally
        {
            lock (_gate)
            {
                _streams.Remove(channel.Writer);
            }
        }
    }

    private List<MemberEvent> Current() => [.. _view.Values.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal).Select(m => new MemberEvent(m, null))];

    private async Task HeartbeatLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _clock, _stop.Token);
                await RoundAsync(_stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // The deadline decides when silence has lasted too long; until then, try again.
                Log.RoundFailed(_logger, exception, _address);
            }
        }
    }

    private async Task RoundAsync(CancellationToken cancellationToken)
    {
        var sent = _clock.GetTimestamp();
        var self = await _store.HeartbeatAsync(_address, _incarnation, cancellationToken);
        if (self is null)
        {
            var row = (await _store.ReadAllAsync(cancellationToken)).FirstOrDefault(m => m.Address == _address);
            Out(row is null || row.Incarnation != _incarnation ? "another node took its address" : $"the cluster counts it as {row.Status}");
            return;
        }

        ArmDeadline(sent);
        foreach (var downed in await _store.DownUnresponsiveAsync(_options.DownAfter, cancellationToken))
        {
            Log.MarkedDown(_logger, downed.Address, downed.Incarnation, _options.DownAfter.TotalSeconds, _address);
        }

        Apply(await _store.ReadAllAsync(cancellationToken));
    }

    private void Apply(IReadOnlyList<MemberRecord> rows)
    {
        List<(Address Address, long Incarnation, string Reason, bool NoOtherRun)> gone = [];
        lock (_gate)
        {
            foreach (var row in rows)
            {
                if (!ActorPath.TryParse(row.Address, out var path))
                {
                    continue;
                }

                var member = new Member(path.Address, row.Incarnation, row.Status, row.Roles);
                var known = _view.GetValueOrDefault(member.Address);
                if (known is not null && known.Incarnation == member.Incarnation && known.Status >= member.Status)
                {
                    continue; // the same, or a read older than what is known: a member's status only moves forward
                }

                if (known is not null && known.Incarnation != member.Incarnation && known.Status < MemberStatus.Removed)
                {
                    // Replaced before anyone marked it down: it went silent, and a new run took the address.
                    Publish(new MemberEvent(known with { Status = MemberStatus.Down }, known.Status));
                    gone.Add((known.Address, known.Incarnation, "a new run of the node took its address", false));
                }

                _view[member.Address] = member;
                Publish(new MemberEvent(member, known is not null && known.Incarnation == member.Incarnation ? known.Status : null));
                if (member.Status >= MemberStatus.Removed)
                {
                    gone.Add((member.Address, member.Incarnation, member.Status == MemberStatus.Down ? "the cluster marked it down" : "it left the cluster", true));
                }
            }

            PublishMembers();

            // Every round again for members that are out: a ref to them read later (from a message
            // or a store) opens a connection that never learned which run it is for; it is given up
            // here instead of retrying for ever (and watchers of such refs get Terminated).
            foreach (var member in _view.Values)
            {
                if (member.Status >= MemberStatus.Removed && !gone.Any(g => g.Address == member.Address))
                {
                    gone.Add((member.Address, member.Incarnation, member.Status == MemberStatus.Down ? "the cluster marked it down" : "it left the cluster", true));
                }
            }
        }

        var remoting = _system.TryGetExtension<RemotingExtension>();
        foreach (var (address, incarnation, reason, noOtherRun) in gone)
        {
            if (address != _system.Address)
            {
                remoting?.DeclareGone(address, incarnation, reason, noOtherRun);
            }
        }
    }

    /// <summary>(Under the lock.) The members list from the view.</summary>
    private void PublishMembers() =>
        Volatile.Write(ref _members, [.. _view.Values.Where(m => m.Status != MemberStatus.Removed).OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)]);

    private void Publish(MemberEvent changed)
    {
        foreach (var stream in _streams)
        {
            stream.TryWrite(changed);
        }

        if (_publisher is not null)
        {
            _publisher.Tell(changed, null);
        }

        Log.MemberChanged(_logger, changed.Member.Address, changed.Member.Status);
    }

    private async Task MoveSelfAsync(MemberStatus status, CancellationToken cancellationToken)
    {
        if (await _store.SetStatusAsync(_address, _incarnation, status, cancellationToken) is { } moved)
        {
            Apply([moved]);
        }
    }

    private void ArmDeadline(long sent)
    {
        var left = SelfDownAfter - _clock.GetElapsedTime(sent);
        lock (_gate)
        {
            if (Volatile.Read(ref _state) == 3 || _disposed || _stop.IsCancellationRequested)
            {
                return;
            }

            _deadline ??= _clock.CreateTimer(_ => Out($"it could not renew its heartbeat for {SelfDownAfter.TotalSeconds:0.#} s (ClusterOptions.DownAfter {_options.DownAfter.TotalSeconds:0.#} s)"), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _deadline.Change(left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    private void DisarmDeadline()
    {
        lock (_gate)
        {
            _deadline?.Dispose();
            _deadline = null;
        }
    }

    /// <summary>This node is no longer a member: it must stop acting as one, so its system terminates.</summary>
    private void Out(string reason)
    {
        if (Interlocked.Exchange(ref _state, 3) == 3)
        {
            return;
        }

        Log.Out(_logger, _address, reason);
        _stop.Cancel();
        lock (_gate)
        {
            if (_view.GetValueOrDefault(_system.Address) is { } self && self.Incarnation == _incarnation && self.Status != MemberStatus.Down)
            {
                var down = self with { Status = MemberStatus.Down };
                _view[self.Address] = down;
                Publish(new MemberEvent(down, self.Status));
                PublishMembers();
            }
        }

        _handOver();
        _ = _system.TerminateAsync();
    }

    private async Task<T> CallStoreAsync<T>(Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new ClusterJoinException($"Node {_address} could not join the cluster: the membership store failed ({exception.Message}). Nothing was written for this node that it would have to undo.", exception);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Cluster: {Address} (incarnation {Incarnation}) joined and is Up; roles: {Roles}")]
        public static partial void Joined(ILogger logger, string address, long incarnation, string roles);

        [LoggerMessage(2, LogLevel.Information, "Cluster: member {Address} is {Status}")]
        public static partial void MemberChanged(ILogger logger, Address address, MemberStatus status);

        [LoggerMessage(3, LogLevel.Warning, "Cluster: marked {Address} (incarnation {Incarnation}) Down: no heartbeat for {Seconds} s (seen from {Self})")]
        public static partial void MarkedDown(ILogger logger, string address, long incarnation, double seconds, string self);

        [LoggerMessage(4, LogLevel.Error, "Cluster: {Address} is no longer a member because {Reason}; terminating its actor system so that it cannot act as one")]
        public static partial void Out(ILogger logger, string address, string reason);

        [LoggerMessage(5, LogLevel.Warning, "Cluster: a heartbeat round of {Address} failed; trying again")]
        public static partial void RoundFailed(ILogger logger, Exception exception, string address);

        [LoggerMessage(6, LogLevel.Information, "Cluster: {Address} left the cluster")]
        public static partial void Left(ILogger logger, string address);

        [LoggerMessage(7, LogLevel.Warning, "Cluster: {Address} could not write that it left; the others will mark it down when its heartbeat is old enough")]
        public static partial void LeaveNotWritten(ILogger logger, Exception exception, string address);
    }
}
