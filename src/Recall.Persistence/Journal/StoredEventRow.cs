using System.Text;

namespace Recall.Persistence.Journal;

/// <summary>
/// A stored event as a store's tables hold it, read without the event types: what the journal
/// inspectors of the stores (and the <c>recall journal</c> commands) show.
/// </summary>
/// <param name="Ordering">Its position in the global order of the store.</param>
/// <param name="PersistenceId">Whose event.</param>
/// <param name="SequenceNumber">Its place in that history.</param>
/// <param name="WriterId">The writer incarnation.</param>
/// <param name="Timestamp">When it was persisted (UTC).</param>
/// <param name="Manifest">The stable type name.</param>
/// <param name="Payload">The payload as text (UTF-8 JSON with the default serializer), or <c>base64:</c> and the bytes when it is not text; see <see cref="PayloadAsText"/>.</param>
/// <param name="Tags">Its tags.</param>
public sealed record StoredEventRow(
    long Ordering, string PersistenceId, long SequenceNumber, string WriterId, DateTimeOffset Timestamp, string Manifest, string Payload, IReadOnlyList<string> Tags)
{
    /// <summary>
    /// A stored payload for people to read: the bytes as UTF-8 text when they are valid UTF-8 (as the
    /// default JSON serializer writes them), else <c>base64:</c> followed by the bytes in base64.
    /// </summary>
    public static string PayloadAsText(byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload);
        }
        catch (DecoderFallbackException)
        {
            return "base64:" + Convert.ToBase64String(payload);
        }
    }
}
