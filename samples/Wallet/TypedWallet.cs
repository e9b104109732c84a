using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Samples.Wallet.Typed;

/// <summary>What the typed wallet accepts.</summary>
public interface IWalletCommand;

/// <summary>Take coins out, if the wallet holds enough; the reply says what happened.</summary>
public sealed record Withdraw(int Coins, IReplyTo<WalletReply> ReplyTo) : IWalletCommand;

/// <summary>Put coins in.</summary>
public sealed record Deposit(int Coins, IReplyTo<WalletReply> ReplyTo) : IWalletCommand;

/// <summary>Ask for the balance.</summary>
public sealed record GetWalletBalance(IReplyTo<WalletReply> ReplyTo) : IWalletCommand;

/// <summary>Every reply of the typed wallet.</summary>
public abstract record WalletReply;

/// <summary>The command was accepted; the balance after it.</summary>
public sealed record Accepted(int Balance) : WalletReply;

/// <summary>The command was refused, and why; nothing was stored.</summary>
public sealed record Refused(string Reason) : WalletReply;

/// <summary>What the typed wallet stores.</summary>
public interface IWalletEvent;

/// <summary>Coins came in.</summary>
[EventType("wallet.deposited.v1")]
public sealed record Deposited(int Coins) : IWalletEvent;

/// <summary>Coins went out.</summary>
[EventType("wallet.withdrawn.v1")]
public sealed record Withdrawn(int Coins) : IWalletEvent;

/// <summary>The typed wallet's state.</summary>
[EventType("wallet.typed-state.v1")]
public sealed record TypedWalletState(int Balance)
{
    public static TypedWalletState Empty { get; } = new(0);
}

/// <summary>
/// The wallet of the seed written with the typed API: the command handler returns effects, the
/// event handler is a pure function, and every command must reply (enforced by the compiler).
/// </summary>
public sealed class TypedWallet(string id)
    : EventSourcedActorWithEnforcedReplies<IWalletCommand, IWalletEvent, TypedWalletState>(PersistenceId.Of("wallet", id), TypedWalletState.Empty)
{
    protected override ReplyEffect<IWalletEvent, TypedWalletState> OnCommand(TypedWalletState state, IWalletCommand command) => command switch
    {
        Deposit { Coins: <= 0 } d => Effect.Reply(d.ReplyTo, new Refused("a deposit must be positive")),
        Deposit d => Effect.Persist(new Deposited(d.Coins)).ThenReply(d.ReplyTo, s => new Accepted(s.Balance)),
        Withdraw w when w.Coins > state.Balance => Effect.Reply(w.ReplyTo, new Refused($"only {state.Balance} coins")),
        Withdraw w => Effect.Persist(new Withdrawn(w.Coins)).ThenReply(w.ReplyTo, s => new Accepted(s.Balance)),
        GetWalletBalance g => Effect.Reply(g.ReplyTo, new Accepted(state.Balance)),
        _ => Effect.NoReply(),
    };

    protected override TypedWalletState OnEvent(TypedWalletState state, IWalletEvent @event) => @event switch
    {
        Deposited e => state with { Balance = state.Balance + e.Coins },
        Withdrawn e => state with { Balance = state.Balance - e.Coins },
        _ => throw new UnexpectedEventException(@event, state),
    };
}
