namespace Recall.Persistence.Tests.Support;

/// <summary>Waiting for a condition that another thread makes true.</summary>
public static class Eventually
{
    /// <summary>
    /// Polls <paramref name="condition"/> until it holds; fails after 30 s (dilated). Generous: it
    /// returns as soon as the condition holds, and a loaded machine may take seconds to get there.
    /// </summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        var timeout = TestKitSettings.Dilated(TimeSpan.FromSeconds(30));
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the condition did not hold within {timeout.TotalSeconds} s");
            await Task.Delay(5);
        }
    }
}
