using Xunit;

namespace Recall.TestKit.Conformance;

/// <summary>
/// The plumbing of a conformance suite whose tests open several stores on one database, as several
/// nodes would: derive, create a store in <see cref="CreateStore"/>, and the stores a test opened
/// with <see cref="NewStore"/> are disposed after it.
/// </summary>
/// <typeparam name="TStore">The store interface the suite tests.</typeparam>
public abstract class SharedStoreConformance<TStore> : IAsyncLifetime
    where TStore : class
{
    private readonly List<TStore> _stores = [];

    /// <summary>Creates a store; stores of one test share their data (one database), as two nodes would.</summary>
    protected abstract TStore CreateStore();

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    /// <summary>A store from <see cref="CreateStore"/>, disposed after the test.</summary>
    protected TStore NewStore()
    {
        var store = CreateStore();
        _stores.Add(store);
        return store;
    }
}
