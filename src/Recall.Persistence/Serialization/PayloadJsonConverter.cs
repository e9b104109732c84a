using System.Text.Json;
using System.Text.Json.Serialization;

namespace Recall.Persistence.Serialization;

/// <summary>
/// Writes a property of declared type <see cref="object"/> with its manifest, so that it reads back
/// as the type it was and not as loose JSON: put
/// <c>[property: JsonConverter(typeof(PayloadJsonConverter))]</c> on it. The value's type needs a
/// manifest (<see cref="EventTypeAttribute"/> or registration), and the value is serialized by the
/// <see cref="JsonEventSerializer"/> of an <see cref="EventSerialization"/>, which every store and
/// remoting use.
/// </summary>
public sealed class PayloadJsonConverter : JsonConverter<object>
{
    /// <inheritdoc />
    public override object? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A payload is stored as an object with its manifest and its value.");
        }

        string? manifest = null;
        byte[]? data = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "manifest":
                    manifest = reader.GetString();
                    break;
                case "value":
                    using (var document = JsonDocument.ParseValue(ref reader))
                    {
                        data = JsonSerializer.SerializeToUtf8Bytes(document.RootElement);
                    }

                    break;
                case "bytes":
                    data = reader.GetBytesFromBase64();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (manifest is null || data is null)
        {
            throw new JsonException("A payload lacks its manifest or its value.");
        }

        return SerializationOf(options).Deserialize(manifest, data);
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, object value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        var serialization = SerializationOf(options);
        var payload = serialization.Serialize(value);
        writer.WriteStartObject();
        writer.WriteString("manifest", payload.Manifest);
        if (serialization.SerializerFor(value.GetType()) is JsonEventSerializer)
        {
            writer.WritePropertyName("value");
            writer.WriteRawValue(payload.Data, skipInputValidation: true);
        }
        else
        {
            writer.WriteBase64String("bytes", payload.Data);
        }

        writer.WriteEndObject();
    }

    private static EventSerialization SerializationOf(JsonSerializerOptions options)
    {
        foreach (var converter in options.Converters)
        {
            if (converter is SerializationMarker { Serializer.Owner: { } owner })
            {
                return owner;
            }
        }

        throw new JsonException("A payload property can only be written and read by the JsonEventSerializer of an EventSerialization (its value needs a manifest).");
    }

    /// <summary>Carries the serializer in its options, so that a payload property finds the registry; converts nothing itself.</summary>
    internal sealed class SerializationMarker(JsonEventSerializer serializer) : JsonConverter<SerializationMarker>
    {
        public JsonEventSerializer Serializer { get; } = serializer;

        public override bool CanConvert(Type typeToConvert) => false;

        public override SerializationMarker Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, SerializationMarker value, JsonSerializerOptions options) => throw new NotSupportedException();
    }
}
