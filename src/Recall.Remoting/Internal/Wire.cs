using System.Buffers;
using System.Text;
using Grpc.Core;

namespace Recall.Remoting.Internal;

/// <summary>
/// The records a frame carries. A frame is one gRPC message on the stream from one node to
/// another; it holds a batch of records. Paths and manifests are sent once per stream as a
/// definition (<see cref="DefinePath"/>, <see cref="DefineManifest"/>) and then named by number.
/// </summary>
internal enum RecordKind : byte
{
    DefinePath = 1,       // id, text
    DefineManifest = 2,   // id, text
    Message = 3,          // recipient id, sender id (0 = none), manifest id, traceparent ("" = none), payload bytes
    Watch = 4,            // watchee id (on the receiver), watcher id (on the sender)
    Unwatch = 5,          // watchee id, watcher id
    Terminated = 6,       // stopped actor id (on the sender), watcher id (on the receiver)
    Identify = 7,         // request number, path id
    Identified = 8,       // request number, found (0/1)
    Leaving = 9,          // the sending node is shutting down
    ResetTables = 10,     // forget every path and manifest defined so far on this stream
    AskFailed = 11,       // ask reply path id (on the receiver), reason: the asked actor will not answer
}

/// <summary>The gRPC method: one bidirectional stream of frames per ordered pair of nodes.</summary>
internal static class Transport
{
    public const string FromHeader = "recall-from";
    public const string FromIncarnationHeader = "recall-from-incarnation";
    public const string ToHeader = "recall-to";
    public const string IncarnationHeader = "recall-incarnation";

    public static readonly Marshaller<Frame> FrameMarshaller = new(
        static (frame, context) =>
        {
            var length = frame.Data.Length;
            context.SetPayloadLength(length);
            var writer = context.GetBufferWriter();
            frame.Data.Span.CopyTo(writer.GetSpan(length));
            writer.Advance(length);
            context.Complete();
        },
        static context =>
        {
            var payload = context.PayloadAsReadOnlySequence();
            var length = checked((int)payload.Length);
            var rented = ArrayPool<byte>.Shared.Rent(length);
            payload.CopyTo(rented);
            return new Frame(rented.AsMemory(0, length), rented);
        });

    public static readonly Method<Frame, Frame> Stream = new(MethodType.DuplexStreaming, "recall.Remoting", "Stream", FrameMarshaller, FrameMarshaller);
}

/// <summary>
/// One gRPC message of the stream. Outbound it views the writer's buffer, which stays untouched
/// until the write completed; inbound it owns a pooled buffer that <see cref="Release"/> returns.
/// </summary>
internal sealed class Frame(ReadOnlyMemory<byte> data, byte[]? rented = null)
{
    public ReadOnlyMemory<byte> Data { get; } = data;

    public void Release()
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}

/// <summary>Writes records into a growing buffer: varint numbers, length-prefixed UTF-8 text and bytes.</summary>
internal sealed class FrameWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

    public int Length => _buffer.WrittenCount;

    public void Reset() => _buffer.ResetWrittenCount();

    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    public void Kind(RecordKind kind) => Byte((byte)kind);

    public void Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    public void Number(long value)
    {
        var span = _buffer.GetSpan(10);
        var position = 0;
        var remaining = (ulong)value;
        while (remaining >= 0x80)
        {
            span[position++] = (byte)(remaining | 0x80);
            remaining >>= 7;
        }

        span[position++] = (byte)remaining;
        _buffer.Advance(position);
    }

    public void Text(string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        Number(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    public void Bytes(ReadOnlySpan<byte> value)
    {
        Number(value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }
}

/// <summary>Reads what <see cref="FrameWriter"/> wrote; a malformed frame throws <see cref="InvalidDataException"/>.</summary>
internal ref struct FrameReader(ReadOnlySpan<byte> frame)
{
    private readonly ReadOnlySpan<byte> _frame = frame;
    private int _position;

    public readonly bool AtEnd => _position >= _frame.Length;

    public RecordKind Kind() => (RecordKind)Byte();

    public byte Byte() => _position < _frame.Length ? _frame[_position++] : throw Truncated();

    public long Number()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Byte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return (long)result;
            }
        }

        throw new InvalidDataException("A number in a remoting frame is longer than 10 bytes.");
    }

    public string Text() => Encoding.UTF8.GetString(Bytes());

    public ReadOnlySpan<byte> Bytes()
    {
        var length = Number();
        if (length < 0 || length > _frame.Length - _position)
        {
            throw Truncated();
        }

        var bytes = _frame.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }

    private static InvalidDataException Truncated() => new("A remoting frame ends in the middle of a record.");
}
