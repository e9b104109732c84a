using System.Collections.Concurrent;
using System.Diagnostics;
using Recall.Diagnostics;

namespace Recall.Persistence.Tests.Support;

/// <summary>Records the stopped activities of Recall.Persistence that belong to one persistence id.</summary>
public sealed class ActivityLog : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public ActivityLog(string persistenceId)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RecallDiagnostics.PersistenceActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem(RecallDiagnostics.PersistenceIdTag) == persistenceId)
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public async Task<Activity> StoppedAsync(string operationName)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.DefaultTimeout;
        while (true)
        {
            var found = _stopped.FirstOrDefault(a => a.OperationName == operationName);
            if (found is not null)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, $"No {operationName} activity stopped in time.");
            await Task.Delay(10);
        }
    }

    public void Dispose() => _listener.Dispose();
}
