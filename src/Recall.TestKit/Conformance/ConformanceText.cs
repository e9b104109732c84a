namespace Recall.TestKit.Conformance;

/// <summary>Payload text the suites share.</summary>
internal static class ConformanceText
{
    /// <summary>Deterministic text of <paramref name="length"/> characters that is not one character repeated, so that a store cannot compress it to nothing.</summary>
    public static string Large(int length) =>
        string.Create(length, 0, static (span, _) =>
        {
            const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ";
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[((i * 7) + (i / alphabet.Length)) % alphabet.Length];
            }
        });

    /// <summary>Disposes every store a test created, async or not.</summary>
    public static async Task DisposeAllAsync<T>(IEnumerable<T> stores)
    {
        foreach (var store in stores)
        {
            switch (store)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }
    }
}
