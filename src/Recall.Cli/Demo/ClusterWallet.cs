using Recall.Cluster.Sharding;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Cli.Demo;

/// <summary>
/// A command of the cluster demo's client: change wallet <see cref="Wallet"/> by <see cref="Coins"/>
/// (negative: take coins out, refused when the wallet holds less). <see cref="Number"/> counts the
/// wallet's commands from 1, so that a command sent again after a node died is applied once.
/// </summary>
[EventType("demo.cluster.change.v1")]
internal sealed record ChangeWallet(string Wallet, long Number, int Coins);

/// <summary>The answer to <see cref="ChangeWallet"/>: whether it was applied (false: refused, not enough coins), the balance after it, and the node that answered.</summary>
[EventType("demo.cluster.changed-ack.v1")]
internal sealed record WalletAck(string Wallet, long Number, bool Applied, int Balance, string Node);

/// <summary>Asks a wallet for its balance; the answer is a <see cref="WalletAck"/> with the number of its last applied (stored) command.</summary>
[EventType("demo.cluster.read.v1")]
internal sealed record ReadWallet(string Wallet);

/// <summary>The cluster wallet's only event: command <see cref="Number"/> changed the balance by <see cref="Coins"/>.</summary>
[EventType("demo.cluster.wallet-changed.v1")]
internal sealed record WalletChanged(long Number, int Coins);

/// <summary>Routes the demo's commands: the wallet is the entity, 30 shards.</summary>
internal sealed class ClusterWalletExtractor() : HashCodeMessageExtractor(ShardCount)
{
    public const int ShardCount = 30;

    public override string? EntityId(object message) => message switch
    {
        ChangeWallet c => c.Wallet,
        ReadWallet r => r.Wallet,
        _ => null,
    };
}

/// <summary>
/// The sharded wallet of <c>recall demo cluster</c>: applies each numbered command once (a command
/// sent again is answered from the state, not stored twice), refuses to go below zero, and says which
/// node answered.
/// </summary>
internal sealed class ClusterWallet(string id) : PersistentActor
{
    /// <summary>The sharded type's name.</summary>
    public const string TypeName = "wallet";

    private int _balance;
    private long _lastApplied;

    public override string PersistenceId => "cluster-wallet-" + id;

    protected override void ReceiveCommand(object command)
    {
        var node = Context.System.Address.ToString();
        switch (command)
        {
            case ChangeWallet c when c.Number <= _lastApplied:
                Sender.Tell(new WalletAck(id, c.Number, true, _balance, node), Self);
                break;
            case ChangeWallet c when _balance + c.Coins < 0:
                Sender.Tell(new WalletAck(id, c.Number, false, _balance, node), Self);
                break;
            case ChangeWallet c:
                Persist(new WalletChanged(c.Number, c.Coins), e =>
                {
                    Apply(e);
                    Sender.Tell(new WalletAck(id, c.Number, true, _balance, node), Self);
                });
                break;
            case ReadWallet:
                Sender.Tell(new WalletAck(id, _lastApplied, true, _balance, node), Self);
                break;
        }
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is WalletChanged e)
        {
            Apply(e);
        }
    }

    private void Apply(WalletChanged e)
    {
        _balance += e.Coins;
        _lastApplied = e.Number;
    }
}
