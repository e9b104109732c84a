using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Recall.Persistence.Leases;

/// <summary>Timing of a <see cref="Lease"/>. Every property has a documented default.</summary>
public sealed class LeaseOptions
{
    /// <summary>How long one acquisition or renewal lasts on the store's clock. Default 10 s.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the holder renews. Default a third of <see cref="Duration"/>.</summary>
    public TimeSpan? RenewInterval { get; set; }

    /// <summary>
    /// How long before the store would expire the lease the holder already counts it as lost, to
    /// allow for clocks that run at slightly different rates. Default a fifth of <see cref="Duration"/>.
    /// </summary>
    public TimeSpan? SafetyMargin { get; set; }

    internal TimeSpan Renew => RenewInterval ?? Duration / 3;

    internal TimeSpan Margin => SafetyMargin ?? Duration / 5;

    internal void Validate()
    {
        if (Duration <= TimeSpan.Zero || Renew <= TimeSpan.Zero || Margin < TimeSpan.Zero || Renew + Margin >= Duration)
        {
            throw new ArgumentException($"LeaseOptions: Duration ({Duration}) must be positive and longer than RenewInterval ({Renew}) plus SafetyMargin ({Margin}), so that a renewal comes before the holder must count the lease lost.");
        }
    }
}

/// <summary>
/// One holder's use of a lease in an <see cref="ILeaseStore"/>: acquire it, keep it renewed in the
/// background, and learn at once when it is lost. The holder counts the lease as held only until
/// its last successful acquisition or renewal, measured from when that call was sent, plus
/// <see cref="LeaseOptions.Duration"/> minus <see cref="LeaseOptions.SafetyMargin"/>: so it stops
/// the guarded work before the store can give the lease to another holder.
/// </summary>
/// <remarks>Work guarded by the lease should watch <see cref="LostToken"/> and write with <see cref="FencingToken"/>.</remarks>
public sealed partial class Lease : IAsyncDisposable
{
    private readonly ILeaseStore _store;
    private readonly LeaseOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private LeaseRecord? _held;
    private long _validUntil;
    private CancellationTokenSource _lost = new();
    private CancellationTokenSource? _renewing;
    private ITimer? _deadline;
    private bool _closed;

    /// <summary>Creates the lease <paramref name="name"/> for <paramref name="holder"/>; nothing is acquired yet.</summary>
    public Lease(ILeaseStore store, string name, string holder, LeaseOptions? options = null, TimeProvider? clock = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        _store = store;
        _options = options ?? new LeaseOptions();
        _options.Validate();
        _clock = clock ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        Name = name;
        Holder = holder;
        _lost.Cancel();
    }

    /// <summary>The lease's name.</summary>
    public string Name { get; }

    /// <summary>This holder.</summary>
    public string Holder { get; }

    /// <summary>Whether this holder holds the lease now, by its own clock (see the type's summary).</summary>
    public bool IsHeld
    {
        get
        {
            lock (_gate)
            {
                return _held is not null && _clock.GetTimestamp() < _validUntil;
            }
        }
    }

    /// <summary>The fencing token of the current holding, or null when not held.</summary>
    public long? FencingToken
    {
        get
        {
            lock (_gate)
            {
                return _held?.FencingToken;
            }
        }
    }

    /// <summary>Cancelled when the current holding ends (lost, not renewed in time, or released); already cancelled while not held.</summary>
    public CancellationToken LostToken
    {
        get
        {
            lock (_gate)
            {
                return _lost.Token;
            }
        }
    }

    /// <summary>
    /// Acquires the lease (or finds it already held by this holder) and keeps renewing it; false when
    /// another holder has it, when the answer came too late to count as held (after the holder's
    /// deadline), or when this lease was disposed.
    /// </summary>
    public async Task<bool> TryAcquireAsync(CancellationToken cancellationToken = default)
    {
        var sent = _clock.GetTimestamp();
        var record = await _store.TryAcquireAsync(Name, Holder, _options.Duration, cancellationToken);
        if (record is null)
        {
            return false;
        }

        var validUntil = Deadline(sent);
        bool late, closed;
        lock (_gate)
        {
            late = _clock.GetTimestamp() >= validUntil;
            closed = _closed;
        }

        if (late || closed)
        {
            // Not ours to use: give it back so that nobody waits for it to expire.
            await _store.ReleaseAsync(Name, Holder, record.FencingToken, CancellationToken.None);
            return false;
        }

        CancellationTokenSource? ended = null;
        lock (_gate)
        {
            var fresh = _held?.FencingToken != record.FencingToken;
            if (fresh && !_lost.IsCancellationRequested)
            {
                ended = _lost; // an earlier holding of another token ended
            }

            _held = record;
            _validUntil = validUntil;
            ArmDeadline();
            if (fresh || _lost.IsCancellationRequested)
            {
                _lost = new CancellationTokenSource();
            }

            if (_renewing is null)
            {
                _renewing = new CancellationTokenSource();
                var stop = _renewing.Token;
                _ = Task.Run(() => RenewLoopAsync(stop), CancellationToken.None);
            }
        }

        ended?.Cancel();
        Log.Acquired(_logger, Name, Holder, record.FencingToken);
        return true;
    }

    /// <summary>Stops renewing and ends the holding in the store at once, so another holder need not wait for expiry.</summary>
    public async ValueTask ReleaseAsync(CancellationToken cancellationToken = default)
    {
        var held = await StopRenewingAsync();
        if (held is not null)
        {
            Lose(Released);
            await _store.ReleaseAsync(Name, Holder, held.FencingToken, cancellationToken);
        }
    }

    /// <summary>Releases the lease if it is held; it is never acquired again (an acquisition still under way gives it back).</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _closed = true;
        }

        await ReleaseAsync();
        _deadline?.Dispose();
    }

    /// <summary>
    /// (Under the lock.) Makes a timer count the holding lost at its deadline, whatever a renewal
    /// call in flight is doing: a store call that ignores cancellation cannot delay the loss.
    /// </summary>
    private void ArmDeadline()
    {
        var due = TimeSpan.FromSeconds(Math.Max(0, (double)(_validUntil - _clock.GetTimestamp()) / _clock.TimestampFrequency));
        if (_deadline is null)
        {
            _deadline = _clock.CreateTimer(static state => ((Lease)state!).CheckDeadline(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _deadline.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void CheckDeadline()
    {
        bool expired;
        lock (_gate)
        {
            expired = _held is not null && _clock.GetTimestamp() >= _validUntil;
        }

        if (expired)
        {
            Lose("it could not be renewed in time");
        }
    }

    private long Deadline(long sent) => sent + (long)((_options.Duration - _options.Margin).TotalSeconds * _clock.TimestampFrequency);

    private async Task RenewLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            LeaseRecord held;
            long validUntil;
            lock (_gate)
            {
                if (_held is null)
                {
                    return;
                }

                held = _held;
                validUntil = _validUntil;
            }

            var remaining = TimeSpan.FromSeconds((double)(validUntil - _clock.GetTimestamp()) / _clock.TimestampFrequency);
            if (remaining <= TimeSpan.Zero)
            {
                Lose("it could not be renewed in time");
                return;
            }

            try
            {
                await Task.Delay(remaining < _options.Renew ? remaining : _options.Renew, _clock, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (_clock.GetTimestamp() >= validUntil)
            {
                Lose("it could not be renewed in time");
                return;
            }

            var sent = _clock.GetTimestamp();
            try
            {
                // A renewal that has not answered by the deadline is given up: the lease is lost then.
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds((double)(validUntil - sent) / _clock.TimestampFrequency), _clock);
                using var call = CancellationTokenSource.CreateLinkedTokenSource(stop, deadline.Token);
                var renewed = await _store.RenewAsync(Name, Holder, held.FencingToken, _options.Duration, call.Token);
                if (renewed is null)
                {
                    Lose("the store no longer has it for this holder");
                    return;
                }

                lock (_gate)
                {
                    if (_held is null || _held.FencingToken != renewed.FencingToken)
                    {
                        return; // this holding ended meanwhile
                    }

                    _held = renewed;
                    _validUntil = Deadline(sent);
                    ArmDeadline();
                }
            }
            catch (Exception exception) when (!stop.IsCancellationRequested)
            {
                Log.RenewFailed(_logger, exception, Name, Holder);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Stops the renewal loop without waiting for it: a renewal stuck in a store call that ignores
    /// cancellation must not hold up a release. A renewal that answers later changes nothing, since
    /// it checks under the lock that its holding is still the current one.
    /// </summary>
    private Task<LeaseRecord?> StopRenewingAsync()
    {
        lock (_gate)
        {
            _renewing?.Cancel();
            _renewing = null;
            return Task.FromResult(_held);
        }
    }

    private const string Released = "released";

    private void Lose(string reason)
    {
        CancellationTokenSource lost;
        lock (_gate)
        {
            if (_held is null)
            {
                return;
            }

            if (reason == Released)
            {
                Log.Released(_logger, Name, Holder, _held.FencingToken);
            }
            else
            {
                Log.Lost(_logger, Name, Holder, _held.FencingToken, reason);
            }
            _held = null;
            _renewing = null;
            lost = _lost;
        }

        lost.Cancel();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Lease {Name}: acquired by {Holder} with fencing token {Token}")]
        public static partial void Acquired(ILogger logger, string name, string holder, long token);

        [LoggerMessage(2, LogLevel.Warning, "Lease {Name}: {Holder} lost it (token {Token}): {Reason}")]
        public static partial void Lost(ILogger logger, string name, string holder, long token, string reason);

        [LoggerMessage(4, LogLevel.Information, "Lease {Name}: {Holder} released it (token {Token})")]
        public static partial void Released(ILogger logger, string name, string holder, long token);

        [LoggerMessage(3, LogLevel.Warning, "Lease {Name}: renewing for {Holder} failed; retrying until it must count as lost")]
        public static partial void RenewFailed(ILogger logger, Exception exception, string name, string holder);
    }
}
