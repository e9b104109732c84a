using System.Buffers.Binary;
using System.Text;
using Recall.Persistence.Serialization;

namespace Recall.Benchmarks.Workloads.Remote;

/// <summary>The message of the remote workloads: a sequence number and a short text ("ping"), 8 bytes with the binary serializer.</summary>
[EventType("bench.ping")]
internal sealed record Ping(int N, string S)
{
    /// <summary>The text every Ping carries.</summary>
    public const string Text = "ping";
}

/// <summary>Sent by a one-way sender after its last Ping; the sink answers with its count.</summary>
[EventType("bench.flush")]
internal sealed record Flush
{
    public static readonly Flush Instance = new();
}

/// <summary>A sink's answer to <see cref="Flush"/>: how many Pings it counted since the last flush, and how many arrived out of sequence.</summary>
[EventType("bench.flush-ack")]
internal sealed record FlushAck(int Count, int OutOfOrder);

/// <summary>
/// The messages' bytes without reflection: a Ping is its number (4 bytes, little-endian) followed
/// by its text in UTF-8, so Ping(n, "ping") is 8 bytes; Flush is empty; FlushAck is two 4-byte
/// numbers. Anything else goes through System.Text.Json.
/// </summary>
internal sealed class BinaryBenchSerializer : ISerializer
{
    private readonly JsonEventSerializer _other = new();

    public byte[] Serialize(object value, Type type)
    {
        switch (value)
        {
            case Ping ping:
            {
                var bytes = new byte[4 + Encoding.UTF8.GetByteCount(ping.S)];
                BinaryPrimitives.WriteInt32LittleEndian(bytes, ping.N);
                Encoding.UTF8.GetBytes(ping.S, bytes.AsSpan(4));
                return bytes;
            }

            case Flush:
                return [];
            case FlushAck ack:
            {
                var bytes = new byte[8];
                BinaryPrimitives.WriteInt32LittleEndian(bytes, ack.Count);
                BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), ack.OutOfOrder);
                return bytes;
            }

            default:
                return _other.Serialize(value, type);
        }
    }

    public object Deserialize(ReadOnlySpan<byte> data, Type type)
    {
        if (type == typeof(Ping))
        {
            return new Ping(BinaryPrimitives.ReadInt32LittleEndian(data), Encoding.UTF8.GetString(data[4..]));
        }

        if (type == typeof(Flush))
        {
            return Flush.Instance;
        }

        if (type == typeof(FlushAck))
        {
            return new FlushAck(BinaryPrimitives.ReadInt32LittleEndian(data), BinaryPrimitives.ReadInt32LittleEndian(data[4..]));
        }

        return _other.Deserialize(data, type);
    }
}

/// <summary>The serialization both nodes of a remote workload use (<c>--serializer binary|json</c>).</summary>
internal static class RemoteSerialization
{
    public static EventSerialization Create(string kind)
    {
        var registry = new EventTypeRegistry().RegisterAssemblyOf<Ping>();
        return kind switch
        {
            "binary" => new EventSerialization(registry, new BinaryBenchSerializer()),
            "json" => new EventSerialization(registry, new JsonEventSerializer()),
            _ => throw new ArgumentException($"serializer '{kind}' is not binary or json", nameof(kind)),
        };
    }

    /// <summary>How the settings line names it.</summary>
    public static string Describe(string kind) => kind == "binary"
        ? "BinaryBenchSerializer (hand-written: int32 + UTF-8 text)"
        : "JsonEventSerializer (System.Text.Json, remoting's default)";
}
