using Recall.Samples.Wallet;

namespace Recall.Persistence.Sqlite.Tests;

public sealed class SqliteWalletTests : IDisposable
{
    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Wallet_balances_survive_a_restart_of_the_actor_system()
    {
        await using (var system = ActorSystem.Create("first", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.RegisterAssemblyOf<Wallet>())))
        {
            var wallet = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
            wallet.Tell(new TakeMy(10), null);
            wallet.Tell(new TakeMy(5), null);
            Assert.Equal(new TakeMy(4), await wallet.Ask<TakeMy>(new GiveMe(4), TimeSpan.FromSeconds(10)));
        }

        await using (var system = ActorSystem.Create("second", o => o.UsePersistence(p => p.UseSqlite(_database.Path).Events.RegisterAssemblyOf<Wallet>())))
        {
            var wallet = system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");
            Assert.Equal(11, await wallet.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(10)));
        }
    }
}
