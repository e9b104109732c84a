namespace Recall.Persistence.Internal;

/// <summary>
/// One actor's claim on the system's recovery permits. The permit is released exactly once: when
/// recovery ends, or when the actor stops first, even if the permit is granted after it stopped.
/// </summary>
internal sealed class RecoveryPermit(SemaphoreSlim permits)
{
    private const int Waiting = 0, Held = 1, Done = 2;
    private int _state;

    public Task AcquireAsync()
    {
        var wait = permits.WaitAsync();
        if (wait.IsCompletedSuccessfully)
        {
            return Granted() ? Task.CompletedTask : Task.FromCanceled(new CancellationToken(true));
        }

        return wait.ContinueWith(
            static (_, state) =>
            {
                if (!((RecoveryPermit)state!).Granted())
                {
                    throw new OperationCanceledException("The actor stopped before its recovery permit was granted.");
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Gives the permit back (or refuses a late grant); safe to call more than once.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _state, Done) == Held)
        {
            permits.Release();
        }
    }

    private bool Granted()
    {
        if (Interlocked.CompareExchange(ref _state, Held, Waiting) == Waiting)
        {
            return true;
        }

        permits.Release();
        return false;
    }
}
