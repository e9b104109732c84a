
namespace Recall.Persistence.Tests;

public sealed class EventTypeRegistryTests
{
    [EventType("registry.attributed.v1")]
    public sealed record Attributed(string Value);

    [EventType("registry.duplicate.v1")]
    public sealed record FirstWithDuplicate(string Value);

    [EventType("registry.duplicate.v1")]
    public sealed record SecondWithDuplicate(string Value);

    public sealed record Plain(string Value);

    public sealed record OtherPlain(string Value);

    [EventType("registry.base.v1")]
    public record AttributedBase(string Value);

    public sealed record DerivedFromAttributed(string Value) : AttributedBase(Value);

    [Fact]
    public void An_attributed_type_is_named_by_its_attribute_and_becomes_known_once_used()
    {
        var registry = new EventTypeRegistry();

        Assert.False(registry.IsKnown("registry.attributed.v1"));

        Assert.Equal("registry.attributed.v1", registry.ManifestOf(typeof(Attributed)));
        Assert.True(registry.IsKnown("registry.attributed.v1"));
        Assert.Equal(typeof(Attributed), registry.TypeOf("registry.attributed.v1"));
    }

    [Fact]
    public void A_manifest_read_before_any_registration_finds_its_attributed_type_in_the_loaded_assemblies()
    {
        // A fresh process replays an event it never wrote: the attribute is enough.
        var registry = new EventTypeRegistry();

        Assert.Equal(typeof(Attributed), registry.TypeOf("registry.attributed.v1"));
        Assert.True(registry.IsKnown("registry.attributed.v1"));
        Assert.Equal("registry.attributed.v1", registry.ManifestOf(typeof(Attributed)));
        Assert.Throws<UnknownManifestException>(() => registry.TypeOf("registry.nowhere.v9"));
    }

    [Fact]
    public void A_manifest_two_attributed_types_claim_is_refused_naming_both()
    {
        var error = Assert.Throws<AmbiguousManifestException>(() => new EventTypeRegistry().TypeOf("registry.duplicate.v1"));

        Assert.Contains(typeof(FirstWithDuplicate).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(SecondWithDuplicate).FullName!, error.Message, StringComparison.Ordinal);

        // Registering one of them settles it.
        var registry = new EventTypeRegistry().Register<SecondWithDuplicate>();
        Assert.Equal(typeof(SecondWithDuplicate), registry.TypeOf("registry.duplicate.v1"));
    }

    [Fact]
    public void Register_without_a_manifest_takes_the_attribute()
    {
        var registry = new EventTypeRegistry().Register<Attributed>();

        Assert.Equal(typeof(Attributed), registry.TypeOf("registry.attributed.v1"));
        Assert.Equal("registry.attributed.v1", registry.ManifestOf(typeof(Attributed)));
    }

    [Fact]
    public void Register_without_a_manifest_of_a_type_without_attribute_throws_naming_the_type()
    {
        var error = Assert.Throws<ArgumentException>(() => new EventTypeRegistry().Register<Plain>());
        Assert.Contains(typeof(Plain).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_attribute_is_not_inherited()
    {
        var registry = new EventTypeRegistry();

        Assert.Equal("registry.base.v1", registry.ManifestOf(typeof(AttributedBase)));
        Assert.Throws<UnregisteredEventTypeException>(() => registry.ManifestOf(typeof(DerivedFromAttributed)));
    }

    [Fact]
    public void Explicit_registration_maps_both_ways()
    {
        var registry = new EventTypeRegistry().Register<Plain>("registry.plain.v1");

        Assert.Equal("registry.plain.v1", registry.ManifestOf(typeof(Plain)));
        Assert.Equal(typeof(Plain), registry.TypeOf("registry.plain.v1"));
        Assert.True(registry.IsKnown("registry.plain.v1"));
    }

    [Fact]
    public void Explicit_registration_takes_precedence_over_the_attribute()
    {
        var registry = new EventTypeRegistry().Register<Attributed>("registry.renamed.v2");

        Assert.Equal("registry.renamed.v2", registry.ManifestOf(typeof(Attributed)));
        Assert.False(registry.IsKnown("registry.attributed.v1"));
    }

    [Fact]
    public void Registering_the_same_pair_again_is_harmless()
    {
        var registry = new EventTypeRegistry()
            .Register<Plain>("registry.plain.v1")
            .Register<Plain>("registry.plain.v1");

        Assert.Equal(typeof(Plain), registry.TypeOf("registry.plain.v1"));
    }

    [Fact]
    public void Built_in_primitives_have_manifests()
    {
        var registry = new EventTypeRegistry();

        Assert.Equal("string", registry.ManifestOf(typeof(string)));
        Assert.Equal("int32", registry.ManifestOf(typeof(int)));
        Assert.Equal("int64", registry.ManifestOf(typeof(long)));
        Assert.Equal("double", registry.ManifestOf(typeof(double)));
        Assert.Equal("decimal", registry.ManifestOf(typeof(decimal)));
        Assert.Equal("bool", registry.ManifestOf(typeof(bool)));
        Assert.Equal("guid", registry.ManifestOf(typeof(Guid)));
    }

    [Fact]
    public void One_manifest_for_two_types_throws_naming_both_types()
    {
        var registry = new EventTypeRegistry().Register<Plain>("registry.shared.v1");

        var error = Assert.Throws<ArgumentException>(() => registry.Register<OtherPlain>("registry.shared.v1"));

        Assert.Contains(typeof(Plain).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(OtherPlain).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains("registry.shared.v1", error.Message, StringComparison.Ordinal);
        Assert.Equal(typeof(Plain), registry.TypeOf("registry.shared.v1"));
    }

    [Fact]
    public void One_manifest_on_two_attributed_types_throws_naming_both_types()
    {
        var registry = new EventTypeRegistry();
        registry.ManifestOf(typeof(FirstWithDuplicate));

        var error = Assert.Throws<ArgumentException>(() => registry.ManifestOf(typeof(SecondWithDuplicate)));

        Assert.Contains(typeof(FirstWithDuplicate).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains(typeof(SecondWithDuplicate).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void One_type_under_two_manifests_throws_naming_the_type_and_both_manifests()
    {
        var registry = new EventTypeRegistry().Register<Plain>("registry.first.v1");

        var error = Assert.Throws<ArgumentException>(() => registry.Register<Plain>("registry.second.v1"));

        Assert.Contains(typeof(Plain).FullName!, error.Message, StringComparison.Ordinal);
        Assert.Contains("registry.first.v1", error.Message, StringComparison.Ordinal);
        Assert.Contains("registry.second.v1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_registration_that_throws_leaves_the_registry_unchanged()
    {
        var registry = new EventTypeRegistry().Register<Plain>("registry.first.v1");

        Assert.Throws<ArgumentException>(() => registry.Register<Plain>("registry.second.v1"));

        Assert.False(registry.IsKnown("registry.second.v1"));
        Assert.Throws<UnknownManifestException>(() => registry.TypeOf("registry.second.v1"));
        Assert.Equal("registry.first.v1", registry.ManifestOf(typeof(Plain)));

        // The manifest the failed registration named is still free for another type.
        registry.Register<OtherPlain>("registry.second.v1");
        Assert.Equal(typeof(OtherPlain), registry.TypeOf("registry.second.v1"));
    }

    [Fact]
    public void An_unregistered_type_throws_naming_the_type()
    {
        var error = Assert.Throws<UnregisteredEventTypeException>(() => new EventTypeRegistry().ManifestOf(typeof(Plain)));

        Assert.Equal(typeof(Plain), error.Type);
        Assert.Contains(typeof(Plain).FullName!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_manifest_throws_naming_the_manifest()
    {
        var error = Assert.Throws<UnknownManifestException>(() => new EventTypeRegistry().TypeOf("registry.nowhere.v9"));

        Assert.Equal("registry.nowhere.v9", error.Manifest);
        Assert.Contains("registry.nowhere.v9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Serialization_reports_the_same_errors()
    {
        var serialization = new EventSerialization();

        var unregistered = Assert.Throws<UnregisteredEventTypeException>(() => serialization.Serialize(new Plain("x")));
        Assert.Equal(typeof(Plain), unregistered.Type);

        var unknown = Assert.Throws<UnknownManifestException>(() => serialization.Deserialize("registry.nowhere.v9", "{}"u8));
        Assert.Equal("registry.nowhere.v9", unknown.Manifest);
    }
}
