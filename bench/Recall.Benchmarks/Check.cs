namespace Recall.Benchmarks;

internal static class Check
{
    /// <summary>Throws <see cref="BenchCheckException"/> unless <paramref name="ok"/>.</summary>
    public static void That(bool ok, string what)
    {
        if (!ok)
        {
            throw new BenchCheckException("check failed: " + what);
        }
    }

    /// <summary>Waits for <paramref name="task"/>, failing the run if it takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<T> Within<T>(Task<T> task, TimeSpan timeout, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task)
        {
            throw new BenchCheckException($"timed out after {timeout.TotalSeconds:F0} s: {what}");
        }

        return await task;
    }

    /// <inheritdoc cref="Within{T}(Task{T}, TimeSpan, string)"/>
    public static async Task Within(Task task, TimeSpan timeout, string what)
    {
        if (await Task.WhenAny(task, Task.Delay(timeout)) != task)
        {
            throw new BenchCheckException($"timed out after {timeout.TotalSeconds:F0} s: {what}");
        }

        await task;
    }
}
