namespace Recall.Remoting.Internal;

/// <summary>Why remoting could not deliver a message; the tag of the dead-letter metric.</summary>
internal enum DeadLetterReason
{
    QueueFull,
    PeerGone,
    Unserializable,
    Oversized,
    UnknownManifest,
    Undeserializable,
    UnknownRecipient,
    ConnectionLost,
}

internal static class DeadLetterReasons
{
    public static string Name(this DeadLetterReason reason) => reason switch
    {
        DeadLetterReason.QueueFull => "queue-full",
        DeadLetterReason.PeerGone => "peer-gone",
        DeadLetterReason.Unserializable => "unserializable",
        DeadLetterReason.Oversized => "oversized",
        DeadLetterReason.UnknownManifest => "unknown-manifest",
        DeadLetterReason.Undeserializable => "undeserializable",
        DeadLetterReason.UnknownRecipient => "unknown-recipient",
        DeadLetterReason.ConnectionLost => "connection-lost",
        _ => "other",
    };

    public static string Explanation(this DeadLetterReason reason) => reason switch
    {
        DeadLetterReason.QueueFull => "the outbound queue to its node is full (RemotingOptions.OutboundQueueCapacity); the node is slow or unreachable",
        DeadLetterReason.PeerGone => "its node is gone (unreachable longer than RemotingOptions.NodeGoneAfter, restarted, left, or marked down by cluster membership)",
        DeadLetterReason.UnknownRecipient => "no actor lives at this path on this node",
        DeadLetterReason.ConnectionLost => "the connection broke while the frame holding it was written; it may or may not have arrived",
        _ => reason.Name(),
    };
}
