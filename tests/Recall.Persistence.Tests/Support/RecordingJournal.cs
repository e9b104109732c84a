namespace Recall.Persistence.Tests.Support;

/// <summary>
/// Passes every call to a journal and records the write calls that reached it: how many, and
/// which atomic writes each carried. <see cref="Stored"/> is raised after a write call returned,
/// for each event it stored, before the runtime sees the result.
/// </summary>
public sealed class RecordingJournal(IJournal inner) : IJournal
{
    private readonly List<IReadOnlyList<AtomicWrite>> _writeCalls = [];
    private readonly Lock _gate = new();

    public IJournal Inner { get; } = inner;

    public event Action<PersistentRepr>? Stored;

    public IReadOnlyList<IReadOnlyList<AtomicWrite>> WriteCalls
    {
        get
        {
            lock (_gate)
            {
                return [.. _writeCalls];
            }
        }
    }

    public async ValueTask<IReadOnlyList<Exception?>> WriteAsync(IReadOnlyList<AtomicWrite> writes, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _writeCalls.Add([.. writes]);
        }

        var results = await Inner.WriteAsync(writes, cancellationToken);
        if (Stored is { } stored)
        {
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is null)
                {
                    foreach (var repr in writes[i].Events)
                    {
                        stored(repr);
                    }
                }
            }
        }

        return results;
    }

    public IAsyncEnumerable<PersistentRepr> ReplayAsync(string persistenceId, long fromSequenceNumber, long toSequenceNumber, long max, CancellationToken cancellationToken) =>
        Inner.ReplayAsync(persistenceId, fromSequenceNumber, toSequenceNumber, max, cancellationToken);

    public ValueTask<long> ReadHighestSequenceNumberAsync(string persistenceId, long fromSequenceNumber, CancellationToken cancellationToken) =>
        Inner.ReadHighestSequenceNumberAsync(persistenceId, fromSequenceNumber, cancellationToken);

    public ValueTask DeleteToAsync(string persistenceId, long toSequenceNumber, CancellationToken cancellationToken) =>
        Inner.DeleteToAsync(persistenceId, toSequenceNumber, cancellationToken);
}
