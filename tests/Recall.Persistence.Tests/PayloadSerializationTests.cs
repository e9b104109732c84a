using System.Text.Json.Serialization;

namespace Recall.Persistence.Tests;

/// <summary>PayloadJsonConverter: a property of declared type object reads back as the type it was.</summary>
public sealed class PayloadSerializationTests
{
    [Fact]
    public void An_object_property_reads_back_as_its_type_with_its_manifest()
    {
        var serialization = new EventSerialization();
        var stored = serialization.Serialize(new Wrapper("alice", new Deposited(10)));

        var read = Assert.IsType<Wrapper>(serialization.Deserialize(stored.Manifest, stored.Data));

        Assert.Equal("alice", read.To);
        Assert.Equal(new Deposited(10), read.Inner);
        Assert.Contains("\"manifest\":\"payload-test.deposited\"", System.Text.Encoding.UTF8.GetString(stored.Data), StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_without_a_manifest_is_refused_naming_its_type()
    {
        var serialization = new EventSerialization();
        var error = Assert.Throws<UnregisteredEventTypeException>(() => serialization.Serialize(new Wrapper("bob", new Unnamed())));
        Assert.Contains(nameof(Unnamed), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_manifest_inside_is_reported_as_such()
    {
        var serialization = new EventSerialization();
        var data = """{"To":"carol","Inner":{"manifest":"payload-test.nothing-has-it","value":{}}}"""u8.ToArray();
        Assert.Throws<UnknownManifestException>(() => serialization.Deserialize("payload-test.wrapper", data));
    }

    [EventType("payload-test.wrapper")]
    public sealed record Wrapper(string To, [property: JsonConverter(typeof(PayloadJsonConverter))] object Inner);

    [EventType("payload-test.deposited")]
    public sealed record Deposited(int Amount);

    public sealed record Unnamed;
}
