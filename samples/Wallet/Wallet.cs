using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Samples.Wallet;

/// <summary>Asks the wallet for coins; granted only if it holds enough.</summary>
public sealed record GiveMe(int Coins);

/// <summary>Puts coins into the wallet; also the reply to a granted <see cref="GiveMe"/>.</summary>
public sealed record TakeMy(int Coins);

/// <summary>The reply to a <see cref="GiveMe"/> the wallet cannot cover: nothing is stored.</summary>
public sealed record NotEnough(int Asked, int Held);

/// <summary>Asks for the current balance; the reply is an <see cref="int"/>.</summary>
public sealed record GetBalance;

/// <summary>The only event: the balance changed by <see cref="Coins"/> (negative when coins were given).</summary>
[EventType("wallet.balance-changed.v1")]
public sealed record BalanceChangedBy(int Coins);

/// <summary>The wallet's state: an immutable record, changed only by events.</summary>
[EventType("wallet.state.v1")]
public sealed record WalletState(int Coins)
{
    public WalletState Updated(int change) => this with { Coins = Coins + change };
}

/// <summary>The seed's wallet: rejects what it cannot cover, stores every change as an event.</summary>
public sealed class Wallet(string id) : PersistentActor
{
    private WalletState _state = new(0);

    public override string PersistenceId => $"wallet-{id}";

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case GiveMe g when g.Coins <= _state.Coins:
                Persist(new BalanceChangedBy(-g.Coins), e =>
                {
                    _state = _state.Updated(e.Coins);
                    Sender.Tell(new TakeMy(g.Coins));
                });
                break;
            case GiveMe g:
                Sender.Tell(new NotEnough(g.Coins, _state.Coins));
                break;
            case TakeMy t:
                Persist(new BalanceChangedBy(t.Coins), e => _state = _state.Updated(e.Coins));
                break;
            case GetBalance:
                Sender.Tell(_state.Coins);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is BalanceChangedBy e)
        {
            _state = _state.Updated(e.Coins);
        }
        else if (message is SnapshotOffer { Snapshot: WalletState state })
        {
            _state = state;
        }
    }
}
