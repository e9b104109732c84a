using Recall.Samples.Wallet;

namespace Recall.Persistence.Tests;

public sealed class WalletSampleTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test", o => o.UsePersistence(p => p.UseInMemory()));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    [Fact]
    public async Task A_wallet_grants_what_it_holds_and_rejects_the_rest()
    {
        var probe = new TestProbe(_system);
        var wallet = _system.Spawn(Props.Create(() => new Wallet("alice")), "wallet-alice");

        wallet.Tell(new TakeMy(10), probe.Ref);
        wallet.Tell(new GiveMe(3), probe.Ref);
        await probe.ExpectMsgAsync(new TakeMy(3));
        wallet.Tell(new GiveMe(50), probe.Ref);
        await probe.ExpectMsgAsync(new NotEnough(50, 7));
        Assert.Equal(7, await wallet.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_wallet_recovers_its_balance_from_events()
    {
        var wallet = _system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
        wallet.Tell(new TakeMy(10), null);
        wallet.Tell(new TakeMy(5), null);
        Assert.Equal(12, await wallet.Ask<TakeMy>(new GiveMe(3), TimeSpan.FromSeconds(5)) is { Coins: 3 }
            ? await wallet.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(5))
            : -1);

        var probe = new TestProbe(_system);
        probe.Watch(wallet);
        _system.Stop(wallet);
        await probe.ExpectTerminatedAsync(wallet);

        var again = _system.Spawn(Props.Create(() => new Wallet("bob")), "wallet-bob");
        Assert.Equal(12, await again.Ask<int>(new GetBalance(), TimeSpan.FromSeconds(5)));
    }
}
