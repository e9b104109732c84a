using Recall.Actors;
using Recall.Persistence.Serialization;

namespace Recall.Remoting.TestNode;

[EventType("test.ping")]
public sealed record Ping(int N, string S = "ping");

[EventType("test.sequenced")]
public sealed record Sequenced(int Sender, int N);

[EventType("test.count-please")]
public sealed record CountPlease(int Senders);

[EventType("test.counted")]
public sealed record Counted(int Total, int OutOfOrder);

[EventType("test.reply-to")]
public sealed record PleaseReplyTo(IActorRef Target, string Text);

[EventType("test.get-text")]
public sealed record GetText(IReplyTo<string> ReplyTo);

[EventType("test.which-trace")]
public sealed record WhichTrace;

[EventType("test.trace-seen")]
public sealed record TraceSeen(string? TraceId, string? ParentId);

[EventType("test.stop")]
public sealed record StopYourself;

/// <summary>Echoes pings to their sender, answers to refs inside messages, stops on request.</summary>
public sealed class Echo : Actor
{
    protected override void Receive(object message)
    {
        switch (message)
        {
            case Ping ping:
                Sender?.Tell(ping);
                break;
            case PleaseReplyTo please:
                please.Target.Tell(please.Text);
                break;
            case GetText get:
                get.ReplyTo.Tell("text from " + Self.Path);
                break;
            case WhichTrace:
                Sender?.Tell(new TraceSeen(System.Diagnostics.Activity.Current?.TraceId.ToHexString(), System.Diagnostics.Activity.Current?.ParentId));
                break;
            case StopYourself:
                Context.Stop(Self);
                break;
            default:
                Unhandled(message);
                break;
        }
    }
}

/// <summary>Counts sequenced messages per sender and how many arrived out of order.</summary>
public sealed class Sink : Actor
{
    private readonly Dictionary<int, int> _next = [];
    private int _total;
    private int _outOfOrder;

    protected override void Receive(object message)
    {
        switch (message)
        {
            case Sequenced s:
                _total++;
                _next.TryGetValue(s.Sender, out var expected);
                if (s.N != expected)
                {
                    _outOfOrder++;
                }

                _next[s.Sender] = s.N + 1;
                break;
            case CountPlease:
                Sender?.Tell(new Counted(_total, _outOfOrder));
                break;
            default:
                Unhandled(message);
                break;
        }
    }
}
