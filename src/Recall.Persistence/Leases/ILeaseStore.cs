namespace Recall.Persistence.Leases;

/// <summary>
/// A lease as its store keeps it: who holds it, the fencing token of that holding, and when it
/// expires on the store's clock.
/// </summary>
/// <param name="Name">The lease's name, e.g. <c>singleton:ledger</c>.</param>
/// <param name="Holder">Who holds (or last held) it, e.g. a node's address and incarnation.</param>
/// <param name="FencingToken">Increases whenever the holder changes; never decreases.</param>
/// <param name="ExpiresAt">When it expires, on the store's clock.</param>
public sealed record LeaseRecord(string Name, string Holder, long FencingToken, DateTimeOffset ExpiresAt);

/// <summary>
/// Where leases live: a database that already arbitrates (its transactions and clock decide), never
/// a vote among nodes. Each call is one conditional statement.
/// </summary>
/// <remarks>
/// <para><b>Acquire.</b> <see cref="TryAcquireAsync"/> succeeds when the lease is new, expired, or
/// held by the same holder; it sets the expiry to the store's now plus the duration. The fencing
/// token starts at 1 and increases by one whenever the holder changes, so a write fenced with an
/// older token is recognisably stale (see the journal's fencing).</para>
/// <para><b>Renew.</b> <see cref="RenewAsync"/> extends the lease only while the same holding (holder
/// and token) is unexpired; null means it was lost.</para>
/// <para><b>Release.</b> <see cref="ReleaseAsync"/> expires the holding at once; the row (and its
/// token) stays, so the next holder's token is higher still.</para>
/// </remarks>
public interface ILeaseStore
{
    /// <summary>Acquires (or re-acquires) the lease for <paramref name="holder"/>; null when another holder has it unexpired.</summary>
    ValueTask<LeaseRecord?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Extends the holding of <paramref name="holder"/> with <paramref name="fencingToken"/>; null when it expired or passed to another.</summary>
    ValueTask<LeaseRecord?> RenewAsync(string name, string holder, long fencingToken, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Ends the holding at once; false when it was not (or no longer) held so.</summary>
    ValueTask<bool> ReleaseAsync(string name, string holder, long fencingToken, CancellationToken cancellationToken);

    /// <summary>The lease as stored, or null if it was never acquired.</summary>
    ValueTask<LeaseRecord?> ReadAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every lease as stored (for inspection: the CLI, the dashboard).</summary>
    ValueTask<IReadOnlyList<LeaseRecord>> ReadAllAsync(CancellationToken cancellationToken);
}

/// <summary>The argument rules every lease store applies, with errors that name the lease.</summary>
internal static class LeaseArguments
{
    internal static void Check(string name, string holder, TimeSpan duration)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        if (duration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, $"The duration of lease '{name}' must be positive.");
        }
    }
}
