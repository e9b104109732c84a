
namespace Recall.Persistence.Tests.Golden;

/// <summary>
/// The stored form of events and snapshots, pinned: each file in this folder is named by a
/// manifest and holds the exact payload bytes <see cref="EventSerialization"/> (with the default
/// JSON serializer) produces for one value below. A change that alters those bytes would make
/// journals already written unreadable or different, so it fails here first. Change a golden file
/// only together with a way to read the old form (a new manifest version and an event adapter).
/// </summary>
public sealed class GoldenFormatTests
{
    [EventType("golden.order-placed.v1")]
    public sealed record OrderPlaced(string OrderId, int Quantity, decimal Total, DateTimeOffset PlacedAt, IReadOnlyList<OrderLine> Lines);

    public sealed record OrderLine(string Sku, int Count, decimal UnitPrice);

    [EventType("golden.customer-renamed.v1")]
    public sealed record CustomerRenamed(string CustomerId, string Name, string? PreviousName, long Revision);

    [EventType("golden.cart-state.v1")]
    public sealed record CartState(string CartId, int Version, decimal Balance, DateTimeOffset UpdatedAt, IReadOnlyList<OrderLine> Items, IReadOnlyList<string> Notes);

    /// <summary>The pinned values, by manifest: three events, one snapshot state and a built-in primitive.</summary>
    public static readonly TheoryData<string> Manifests =
    [
        "golden.order-placed.v1",
        "golden.customer-renamed.v1",
        "golden.cart-state.v1",
        "string",
        "decimal",
    ];

    private static object ValueOf(string manifest) => manifest switch
    {
        "golden.order-placed.v1" => new OrderPlaced(
            "order-42",
            3,
            1234.50m,
            new DateTimeOffset(2024, 2, 29, 23, 59, 58, TimeSpan.Zero).AddTicks(1_234_567),
            [new OrderLine("sku-1", 1, 1000.00m), new OrderLine("sku-2", 2, 117.25m)]),
        "golden.customer-renamed.v1" => new CustomerRenamed("customer-7", "Zoë \"Zed\" Ünïcødé ✓ 🎉 <b>&</b>", null, long.MaxValue),
        "golden.cart-state.v1" => new CartState(
            "cart-ünï",
            17,
            -0.005m,
            new DateTimeOffset(2023, 12, 31, 22, 0, 0, TimeSpan.FromHours(2)).AddTicks(5_000),
            [new OrderLine("sku-3", 4, 79228162514264337593543950335m)],
            ["first", "", "line\nbreak\ttab"]),
        "string" => "a plain string event, ünïcødé ✓",
        "decimal" => 0.10m,
        _ => throw new ArgumentOutOfRangeException(nameof(manifest), manifest, "No golden value."),
    };

    private static EventSerialization Serialization() =>
        new(new EventTypeRegistry().Register<OrderPlaced>().Register<CustomerRenamed>().Register<CartState>(), new JsonEventSerializer());

    private static byte[] GoldenBytes(string manifest) =>
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Golden", manifest + ".json"));

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Serializing_the_value_gives_the_golden_manifest_and_bytes(string manifest)
    {
        var serialized = Serialization().Serialize(ValueOf(manifest));

        Assert.Equal(manifest, serialized.Manifest);
        Assert.Equal(
            System.Text.Encoding.UTF8.GetString(GoldenBytes(manifest)),
            System.Text.Encoding.UTF8.GetString(serialized.Data));
        Assert.Equal(GoldenBytes(manifest), serialized.Data);
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Deserializing_the_golden_bytes_gives_the_value(string manifest)
    {
        var value = Serialization().Deserialize(manifest, GoldenBytes(manifest));

        AssertEquivalent(ValueOf(manifest), value);
    }

    /// <summary>Records compare lists by reference; compare them element by element instead, and offsets and decimal scale too.</summary>
    private static void AssertEquivalent(object expected, object actual)
    {
        Assert.IsType(expected.GetType(), actual);
        switch (expected)
        {
            case OrderPlaced order:
                var actualOrder = (OrderPlaced)actual;
                Assert.Equal(order with { Lines = [] }, actualOrder with { Lines = [] });
                Assert.Equal(order.PlacedAt.Offset, actualOrder.PlacedAt.Offset);
                Assert.Equal(order.Total.Scale, actualOrder.Total.Scale);
                Assert.Equal(order.Lines, actualOrder.Lines);
                break;
            case CartState cart:
                var actualCart = (CartState)actual;
                Assert.Equal(cart with { Items = [], Notes = [] }, actualCart with { Items = [], Notes = [] });
                Assert.Equal(cart.UpdatedAt.Offset, actualCart.UpdatedAt.Offset);
                Assert.Equal(cart.Items, actualCart.Items);
                Assert.Equal(cart.Notes, actualCart.Notes);
                break;
            case decimal number:
                Assert.Equal(number, actual);
                Assert.Equal(number.Scale, ((decimal)actual).Scale);
                break;
            default:
                Assert.Equal(expected, actual);
                break;
        }
    }
}
