using System.Collections.Concurrent;
using Recall.Persistence;
using Recall.Persistence.Query;

namespace Recall.Projections.Tests;

/// <summary>Instances that split the slices of an entity type between them.</summary>
public sealed class SlicesTests
{
    [Fact]
    public async Task Two_instances_splitting_the_slices_cover_every_event_exactly_once()
    {
        await using var harness = Harness.Create();
        var expected = new List<(string, long)>();
        for (var i = 0; i < 120; i++)
        {
            var id = PersistenceId.Of("account", $"a{i % 40}").Value;
            await harness.WriteAsync(id, new Added(i));
            expected.Add((id, (i / 40) + 1));
        }

        await harness.WriteAsync(PersistenceId.Of("order", "o1"), new Added(999)); // another entity type
        var offsets = new InMemoryProjectionOffsetStore();
        var seen = new ConcurrentDictionary<(string, long), int>();
        var byInstance = new ConcurrentDictionary<string, ConcurrentBag<int>>();
        var handles = Slices.Ranges(2).Select(range =>
        {
            var source = ProjectionSource.EventsBySlices("account", range.MinSlice, range.MaxSlice);
            return harness.Projections.Start(Projection.AtLeastOnce("accounts", source, offsets, (e, _) =>
            {
                seen.AddOrUpdate((e.PersistenceId, e.SequenceNumber), 1, (_, n) => n + 1);
                byInstance.GetOrAdd(source.Key, _ => []).Add(Slices.Of(e.PersistenceId));
                return Task.CompletedTask;
            }));
        }).ToList();

        foreach (var handle in handles)
        {
            await Wait.ForAsync(handle.WaitForCatchUpAsync(), handle.Id.ToString());
        }

        Assert.Equal(expected.Order(), seen.Keys.Order());
        Assert.All(seen.Values, n => Assert.Equal(1, n));
        Assert.Equal(["account:0-511", "account:512-1023"], handles.Select(h => h.Id.Key));
        Assert.All(byInstance["account:0-511"], slice => Assert.InRange(slice, 0, 511));
        Assert.All(byInstance["account:512-1023"], slice => Assert.InRange(slice, 512, 1023));
        Assert.Equal(120, handles.Sum(h => h.Status.EventsHandled));
        Assert.Equal(2, offsets.Rows.Count);
    }
}
