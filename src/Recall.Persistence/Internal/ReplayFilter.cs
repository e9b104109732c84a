using Recall.Persistence.Journal;

namespace Recall.Persistence.Internal;

/// <summary>
/// Detects a history that two writers of one persistence id interleaved (a split brain before the
/// store enforced a single writer) and, by <see cref="ReplayFilterMode"/>, repairs it by keeping the
/// newest writer's events, fails, or warns. Events pass through a window so that an overlap can
/// still be repaired when the newer writer's first event arrives after some of the older one's.
/// </summary>
internal sealed class ReplayFilter(string persistenceId, ReplayFilterMode mode, int window, Action<string> warn)
{
    private readonly LinkedList<PersistentRepr> _buffer = new();
    private readonly HashSet<string> _oldWriters = new(StringComparer.Ordinal);
    private string? _writer;
    private long _highestEmitted;

    /// <summary>Takes the next replayed event; passes on the events that leave the window.</summary>
    public void Add(PersistentRepr repr, List<PersistentRepr> output)
    {
        if (repr.WriterId.Length == 0)
        {
            Append(repr, output);
            return;
        }

        if (_writer is null)
        {
            _writer = repr.WriterId;
        }
        else if (!string.Equals(repr.WriterId, _writer, StringComparison.Ordinal))
        {
            if (_oldWriters.Contains(repr.WriterId))
            {
                Offend(repr, $"event {repr.SequenceNumber} of '{persistenceId}' comes from old writer {repr.WriterId} after newer writer {_writer} took over");
                if (mode == ReplayFilterMode.RepairByDiscardOld)
                {
                    return;
                }
            }
            else
            {
                // A new writer. Whatever the previous writer wrote at or above this writer's first
                // sequence number was written in parallel with it: that is the older history.
                if (repr.SequenceNumber <= _highestEmitted)
                {
                    Offend(repr, $"writer {repr.WriterId} of '{persistenceId}' starts at {repr.SequenceNumber}, below events already replayed (up to {_highestEmitted}); increase the replay filter window");
                    if (mode == ReplayFilterMode.RepairByDiscardOld)
                    {
                        throw new InvalidOperationException($"Cannot repair the history of '{persistenceId}': the overlap of writers {_writer} and {repr.WriterId} is larger than the replay filter window ({window}).");
                    }
                }

                for (var node = _buffer.First; node is not null;)
                {
                    var next = node.Next;
                    if (node.Value.SequenceNumber >= repr.SequenceNumber && node.Value.WriterId == _writer)
                    {
                        Offend(node.Value, $"event {node.Value.SequenceNumber} of '{persistenceId}' from writer {_writer} overlaps newer writer {repr.WriterId}");
                        if (mode == ReplayFilterMode.RepairByDiscardOld)
                        {
                            _buffer.Remove(node);
                        }
                    }

                    node = next;
                }

                _oldWriters.Add(_writer);
                _writer = repr.WriterId;
            }
        }

        Append(repr, output);
    }

    /// <summary>Passes on what is left in the window.</summary>
    public void Complete(List<PersistentRepr> output)
    {
        while (_buffer.First is { } first)
        {
            _buffer.RemoveFirst();
            Emit(first.Value, output);
        }
    }

    private void Append(PersistentRepr repr, List<PersistentRepr> output)
    {
        _buffer.AddLast(repr);
        if (_buffer.Count > window)
        {
            var first = _buffer.First!.Value;
            _buffer.RemoveFirst();
            Emit(first, output);
        }
    }

    private void Emit(PersistentRepr repr, List<PersistentRepr> output)
    {
        _highestEmitted = Math.Max(_highestEmitted, repr.SequenceNumber);
        output.Add(repr);
    }

    private void Offend(PersistentRepr repr, string problem)
    {
        switch (mode)
        {
            case ReplayFilterMode.Fail:
                throw new InvalidOperationException($"Replay filter: {problem}.");
            case ReplayFilterMode.Off:
                return;
            case ReplayFilterMode.Warn:
                warn($"Replay filter: {problem}; replaying it anyway.");
                return;
            default:
                warn($"Replay filter: {problem}; discarding event {repr.SequenceNumber} of writer {repr.WriterId}.");
                return;
        }
    }
}
