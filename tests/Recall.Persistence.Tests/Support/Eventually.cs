namespace Recall.Persistence.Tests.Support;

/// <summary>Waiting for a condition that another thread makes true.</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails after the test kit's default timeout.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestKitSettings.DefaultTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the condition did not hold within {TestKitSettings.DefaultTimeout.TotalSeconds} s");
            await Task.Delay(5);
        }
    }
}
