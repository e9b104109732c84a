using System.Text.Json;
using System.Text.Json.Serialization;
using Recall.Actors;
using Recall.Persistence.Delivery;

namespace Recall.Persistence.Serialization;

/// <summary>
/// Stores an <see cref="UnconfirmedDelivery"/> (part of a delivery snapshot) with its message under
/// the message's own manifest, so that the message reads back as its type and not as loose JSON.
/// </summary>
internal sealed class UnconfirmedDeliveryJsonConverter(JsonEventSerializer owner) : JsonConverter<UnconfirmedDelivery>
{
    public override UnconfirmedDelivery Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("An unconfirmed delivery is stored as an object.");
        }

        long deliveryId = 0;
        var attempts = 0;
        IActorRef? destination = null;
        string? manifest = null;
        byte[]? message = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "deliveryId":
                    deliveryId = reader.GetInt64();
                    break;
                case "attempts":
                    attempts = reader.GetInt32();
                    break;
                case "destination":
                    destination = JsonSerializer.Deserialize<IActorRef>(ref reader, options);
                    break;
                case "manifest":
                    manifest = reader.GetString();
                    break;
                case "message":
                    using (var document = JsonDocument.ParseValue(ref reader))
                    {
                        message = JsonSerializer.SerializeToUtf8Bytes(document.RootElement);
                    }

                    break;
                case "messageBytes":
                    message = reader.GetBytesFromBase64();
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (destination is null || manifest is null || message is null)
        {
            throw new JsonException($"Unconfirmed delivery {deliveryId} lacks its destination, manifest or message.");
        }

        return new UnconfirmedDelivery(deliveryId, destination, Serialization.Deserialize(manifest, message), attempts);
    }

    public override void Write(Utf8JsonWriter writer, UnconfirmedDelivery value, JsonSerializerOptions options)
    {
        var message = Serialization.Serialize(value.Message);
        writer.WriteStartObject();
        writer.WriteNumber("deliveryId", value.DeliveryId);
        writer.WritePropertyName("destination");
        JsonSerializer.Serialize(writer, value.Destination, options);
        writer.WriteString("manifest", message.Manifest);
        if (Serialization.SerializerFor(value.Message.GetType()) is JsonEventSerializer)
        {
            writer.WritePropertyName("message");
            writer.WriteRawValue(message.Data, skipInputValidation: true);
        }
        else
        {
            writer.WriteBase64String("messageBytes", message.Data);
        }

        writer.WriteNumber("attempts", value.Attempts);
        writer.WriteEndObject();
    }

    private EventSerialization Serialization => owner.Owner
        ?? throw new JsonException("A delivery snapshot can only be written by a serializer that belongs to an EventSerialization (its messages need their manifests).");
}
