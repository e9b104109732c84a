using Microsoft.Extensions.Logging;
using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Samples.Worker;

/// <summary>What the ledger accepts.</summary>
public interface IJobCommand;

/// <summary>Record that a job is done; the reply is the ledger after it.</summary>
public sealed record CompleteJob(string JobId, IReplyTo<JobsDone> ReplyTo) : IJobCommand;

/// <summary>Ask how many jobs are done.</summary>
public sealed record GetJobsDone(IReplyTo<JobsDone> ReplyTo) : IJobCommand;

/// <summary>How many jobs are done, and the last one.</summary>
public sealed record JobsDone(int Count, string? LastJobId);

/// <summary>What the ledger stores.</summary>
public interface IJobEvent;

/// <summary>A job was done.</summary>
[EventType("worker.job-completed.v1")]
public sealed record JobCompleted(string JobId) : IJobEvent;

/// <summary>The ledger's state: the sum of its events.</summary>
public sealed record LedgerState(int Count, string? LastJobId)
{
    public static LedgerState Empty { get; } = new(0, null);
}

/// <summary>
/// A persistent ledger of completed jobs. Its logger comes from the host's container: the actor is
/// registered with <c>AddActor&lt;JobLedger&gt;("jobs")</c> and created by dependency injection.
/// </summary>
public sealed partial class JobLedger(ILogger<JobLedger> logger)
    : EventSourcedActorWithEnforcedReplies<IJobCommand, IJobEvent, LedgerState>(PersistenceId.Of("jobs", "ledger"), LedgerState.Empty)
{
    protected override ReplyEffect<IJobEvent, LedgerState> OnCommand(LedgerState state, IJobCommand command) => command switch
    {
        CompleteJob c => Effect.Persist(new JobCompleted(c.JobId)).ThenReply(c.ReplyTo, s => new JobsDone(s.Count, s.LastJobId)),
        GetJobsDone g => Effect.Reply(g.ReplyTo, new JobsDone(state.Count, state.LastJobId)),
        _ => Effect.NoReply(),
    };

    protected override LedgerState OnEvent(LedgerState state, IJobEvent @event) => @event switch
    {
        JobCompleted e => new LedgerState(state.Count + 1, e.JobId),
        _ => throw new UnexpectedEventException(@event, state),
    };

    protected override void OnRecoveryCompleted(LedgerState state) => Log.Recovered(logger, state.Count);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Ledger recovered: {Count} jobs were done before this run")]
        public static partial void Recovered(ILogger logger, int count);
    }
}
