using System.Text.Json;
using Recall.Persistence.Journal;
using Recall.Persistence.Serialization;

namespace Recall.Persistence.PostgreSql;

/// <summary>The columns of a write batch.</summary>
public sealed partial class PostgreSqlJournal
{
    /// <summary>The rows of the atomic writes that are still to be stored, as the columns the statement takes.</summary>
    private sealed class Batch
    {
        private readonly int[] _writeOfRow;
        private readonly IReadOnlyList<AtomicWrite> _writes;
        private readonly Exception?[] _results;

        public Batch(IReadOnlyList<AtomicWrite> writes, SerializedPayload[][] payloads, Exception?[] results)
        {
            _writes = writes;
            _results = results;
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is null)
                {
                    Rows += writes[i].Events.Count;
                }
            }

            _writeOfRow = new int[Rows];
            PersistenceIds = new string[Rows];
            SequenceNumbers = new long[Rows];
            WriterIds = new string[Rows];
            Timestamps = new DateTime[Rows];
            Manifests = new string[Rows];
            Payloads = new byte[Rows][];
            Tags = new string?[Rows];
            WriteLowest = new long[Rows];
            EntityTypes = new string[Rows];
            Slices = new int[Rows];
            FencingTokens = new long?[Rows];
            var row = 0;
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is not null)
                {
                    continue;
                }

                for (var e = 0; e < writes[i].Events.Count; e++, row++)
                {
                    var repr = writes[i].Events[e];
                    _writeOfRow[row] = i;
                    PersistenceIds[row] = repr.PersistenceId;
                    SequenceNumbers[row] = repr.SequenceNumber;
                    WriterIds[row] = repr.WriterId;
                    Timestamps[row] = ToMicroseconds(repr.Timestamp);
                    Manifests[row] = payloads[i][e].Manifest;
                    Payloads[row] = payloads[i][e].Data;
                    Tags[row] = repr.Tags.Count == 0 ? null : JsonSerializer.Serialize(repr.Tags);
                    WriteLowest[row] = writes[i].LowestSequenceNumber;
                    EntityTypes[row] = Query.Slices.EntityTypeOf(repr.PersistenceId);
                    Slices[row] = Query.Slices.Of(repr.PersistenceId);
                    FencingTokens[row] = writes[i].FencingToken;
                }
            }
        }

        public int Rows { get; }

        public string[] PersistenceIds { get; }

        public long[] SequenceNumbers { get; }

        public string[] WriterIds { get; }

        public DateTime[] Timestamps { get; }

        public string[] Manifests { get; }

        public byte[][] Payloads { get; }

        public string?[] Tags { get; }

        public long[] WriteLowest { get; }

        public string[] EntityTypes { get; }

        public int[] Slices { get; }

        public long?[] FencingTokens { get; }

        /// <summary>Marks the atomic write of <paramref name="row"/> as refused for its stale fencing token.</summary>
        public void Fenced(int row)
        {
            var write = _writes[_writeOfRow[row]];
            _results[_writeOfRow[row]] ??= new FencedWriteException(write.PersistenceId, write.LowestSequenceNumber, write.FencingToken ?? 0);
        }

        /// <summary>Marks the atomic write of <paramref name="row"/> as a conflict at <paramref name="sequenceNumber"/> (the first one found wins).</summary>
        public void Conflict(int row, long sequenceNumber, Exception? inner = null)
        {
            var write = _writeOfRow[row];
            _results[write] ??= new SequenceConflictException(_writes[write].PersistenceId, sequenceNumber, inner);
        }
    }
}
