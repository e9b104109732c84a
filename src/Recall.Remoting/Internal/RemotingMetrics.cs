using System.Diagnostics;
using System.Diagnostics.Metrics;
using Recall.Actors;

namespace Recall.Remoting.Internal;

/// <summary>
/// The <c>Recall.Remoting</c> meter: messages and bytes in and out per peer, dead letters by
/// reason, and the outbound queue depth per peer. Counted per frame, not per message.
/// </summary>
internal sealed class RemotingMetrics : IDisposable
{
    public const string MeterName = "Recall.Remoting";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> MessagesSent = Meter.CreateCounter<long>("recall.remoting.messages.sent", "{message}", "Messages written to other nodes");
    private static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("recall.remoting.bytes.sent", "By", "Frame bytes written to other nodes");
    private static readonly Counter<long> MessagesReceived = Meter.CreateCounter<long>("recall.remoting.messages.received", "{message}", "Messages read from other nodes");
    private static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("recall.remoting.bytes.received", "By", "Frame bytes read from other nodes");
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("recall.remoting.dead_letters", "{message}", "Messages remoting could not deliver, by reason");
    private static readonly List<RemoteTransport> Transports = [];

    private readonly RemoteTransport _transport;

    static RemotingMetrics()
    {
        Meter.CreateObservableGauge("recall.remoting.queue.depth", ObserveQueues, "{message}", "Messages waiting to be sent to each peer");
    }

    public RemotingMetrics(RemoteTransport transport)
    {
        _transport = transport;
        lock (Transports)
        {
            Transports.Add(transport);
        }
    }

    public void Sent(Association peer, int messages, int bytes)
    {
        if (MessagesSent.Enabled || BytesSent.Enabled)
        {
            var tags = Tags(peer.Remote);
            MessagesSent.Add(messages, tags);
            BytesSent.Add(bytes, tags);
        }
    }

    public void Received(Address peer, int bytes)
    {
        if (BytesReceived.Enabled)
        {
            BytesReceived.Add(bytes, Tags(peer));
        }
    }

    public void ReceivedMessages(Address peer, int messages)
    {
        if (MessagesReceived.Enabled)
        {
            MessagesReceived.Add(messages, Tags(peer));
        }
    }

    public void DeadLetter(DeadLetterReason reason) =>
        DeadLetters.Add(1, new TagList { { "system", _transport.System.Name }, { "reason", reason.Name() } });

    public void Dispose()
    {
        lock (Transports)
        {
            Transports.Remove(_transport);
        }
    }

    private TagList Tags(Address peer) => new() { { "system", _transport.System.Address.ToString() }, { "peer", peer.ToString() } };

    private static IEnumerable<Measurement<int>> ObserveQueues()
    {
        List<Measurement<int>> measurements = [];
        lock (Transports)
        {
            foreach (var transport in Transports)
            {
                foreach (var association in transport.Associations)
                {
                    measurements.Add(new Measurement<int>(association.QueueDepth, transport.Metrics.Tags(association.Remote)));
                }
            }
        }

        return measurements;
    }
}
