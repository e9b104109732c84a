using System.Runtime.ExceptionServices;

namespace Recall.Actors.Internal;

/// <summary>
/// Async handlers: a task started by a handler holds back user messages until it ends, and its
/// continuations run on the actor as system messages, with the message that started it as current.
/// </summary>
internal sealed partial class ActorCell
{
    public void RunTask(Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (t_current != this)
        {
            throw new InvalidOperationException($"RunTask must be called from a message handler of {Self.Path}.");
        }

        var envelope = _current;
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(new ActorSynchronizationContext(this, envelope));
        Task task;
        try
        {
            task = work();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        if (task.IsCompleted)
        {
            if (task.IsFaulted || task.IsCanceled)
            {
                ExceptionDispatchInfo.Capture(task.Exception?.InnerException ?? new TaskCanceledException(task)).Throw();
            }

            return;
        }

        _pendingTasks++;
        task.ContinueWith(
            static (t, state) =>
            {
                var (cell, envelope) = ((ActorCell, Envelope))state!;
                cell.SendSystem(new TaskCompleted(t, envelope));
            },
            (this, envelope),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public void PostContinuation(SendOrPostCallback callback, object? state, Envelope envelope) =>
        SendSystem(new RunContinuation(callback, state, envelope));

    private void RunContinuationOnActor(RunContinuation continuation)
    {
        var saved = _current;
        _current = continuation.Envelope;
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(new ActorSynchronizationContext(this, continuation.Envelope));
        try
        {
            continuation.Callback(continuation.State);
        }
        catch (Exception exception)
        {
            HandleFailure(exception);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
            _current = saved;
        }
    }

    private void OnTaskCompleted(TaskCompleted completed)
    {
        _pendingTasks--;
        var task = completed.Task;
        if (task.IsFaulted || task.IsCanceled)
        {
            var saved = _current;
            _current = completed.Envelope;
            HandleFailure(task.Exception?.InnerException ?? new TaskCanceledException(task));
            _current = saved;
        }
    }
}
