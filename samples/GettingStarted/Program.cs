using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;
using Recall.Persistence.Sqlite;

await using var system = ActorSystem.Create("bank", o => o
    .UsePersistence(p => p.UseSqlite("bank.db")));
var wallet = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
wallet.Tell(new Deposit(10));
Console.WriteLine($"balance: {await wallet.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(5))}");

internal sealed record Deposit(int Coins);
internal sealed record GetBalance;
[EventType("wallet.deposited.v1")] internal sealed record Deposited(int Coins);

internal sealed class Wallet(string id) : PersistentActor
{
    private int _balance;
    public override string PersistenceId => $"wallet-{id}";

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Deposit d: Persist(new Deposited(d.Coins), e => _balance += e.Coins); break;
            case GetBalance: Sender.Tell(_balance); break;
            default: Unhandled(command); break;
        }
    }

    protected override void ReceiveRecover(object message) { if (message is Deposited e) _balance += e.Coins; }
}
