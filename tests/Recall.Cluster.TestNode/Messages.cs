using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Cluster.TestNode;

[EventType("cluster-node.where")]
public sealed record WhereNow;

[EventType("cluster-node.here")]
public sealed record HereNow(string Node);

/// <summary>The singleton of the test node: says where it runs.</summary>
public sealed class WhereSingleton : Actor
{
    protected override void Receive(object message)
    {
        if (message is WhereNow)
        {
            Sender.Tell(new HereNow(Context.System.Address.ToString()), Self);
        }
    }
}

[EventType("cluster-node.ticked")]
public sealed record Ticked(string Node);

/// <summary>
/// A persistent singleton that writes an event naming its node every 50 ms: a stale owner that
/// wrote after the new owner's first event would show in the journal. It prints
/// <c>@@TICKER start|stop &lt;unix ms&gt;</c> when it starts and stops.
/// </summary>
public sealed class TickerSingleton : PersistentActor
{
    private sealed record Tick;

    public override string PersistenceId => "ticker";

    protected override void PreStart()
    {
        base.PreStart();
        Console.WriteLine($"@@TICKER start {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
        Timers.StartPeriodicTimer("tick", new Tick(), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
    }

    protected override void PostStop()
    {
        Console.WriteLine($"@@TICKER stop {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
        base.PostStop();
    }

    protected override void ReceiveCommand(object command)
    {
        if (command is Tick)
        {
            Persist(new Ticked(Context.System.Address.ToString()), _ => { });
        }
    }

    protected override void ReceiveRecover(object message)
    {
    }
}

[EventType("cluster-node.deposit")]
public sealed record Deposit(string Account, string CommandId, int Amount);

[EventType("cluster-node.deposited")]
public sealed record Deposited(string CommandId, int Amount, string Writer, long Token);

[EventType("cluster-node.deposit-ack")]
public sealed record DepositAck(string Account, string CommandId, long Balance, string Node);

/// <summary>The accounts' extractor: 30 shards by the stable hash of the account id.</summary>
public sealed class AccountExtractor() : Recall.Cluster.Sharding.HashCodeMessageExtractor(30)
{
    public override string? EntityId(object message) => (message as Deposit)?.Account ?? base.EntityId(message);
}

/// <summary>
/// A sharded account: a deposit persists an event naming the command, the writer (node address
/// and incarnation) and the fencing token of its shard's lease, then answers with the balance. A command already applied (a client's retry
/// after a lost answer) is answered again without a second event.
/// </summary>
public sealed class Account(string id, string writer) : PersistentActor
{
    public const string TypeName = "account";
    private readonly HashSet<string> _applied = new(StringComparer.Ordinal);
    private long _balance;

    public override string PersistenceId => "account|" + id;

    protected override void ReceiveCommand(object command)
    {
        if (command is not Deposit deposit)
        {
            return;
        }

        if (_applied.Contains(deposit.CommandId))
        {
            Sender.Tell(new DepositAck(id, deposit.CommandId, _balance, Context.System.Address.ToString()), Self);
            return;
        }

        var token = Context.System.Persistence().FencingTokenOf(Self.Path) ?? 0;
        Persist(new Deposited(deposit.CommandId, deposit.Amount, writer, token), e =>
        {
            Apply(e);
            Sender.Tell(new DepositAck(id, deposit.CommandId, _balance, Context.System.Address.ToString()), Self);
        });
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is Deposited e)
        {
            Apply(e);
        }
    }

    private void Apply(Deposited e)
    {
        _applied.Add(e.CommandId);
        _balance += e.Amount;
    }
}
