using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class SpawnAndTellTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed class Echo : Actor
    {
        protected override void Receive(object message) => Sender.Tell(message, Self);
    }

    [Fact]
    public async Task Tell_delivers_with_sender_and_the_reply_comes_back()
    {
        var probe = new TestProbe(_system);
        var echo = _system.Spawn(Props.Create(() => new Echo()), "echo");

        echo.Tell("hello", probe.Ref);

        Assert.Equal("hello", await probe.ExpectMsgAsync<string>());
        Assert.Equal(echo, probe.LastSender);
    }

    [Fact]
    public void Paths_are_hierarchical_with_an_address()
    {
        var echo = _system.Spawn(Props.Create(() => new Echo()), "echo");

        Assert.Equal("recall://test/user/echo", echo.Path.ToString());
        Assert.Equal(["user", "echo"], echo.Path.Elements);
        Assert.Equal(new Address("test"), echo.Path.Address);
    }

    [Fact]
    public void A_duplicate_name_is_a_clear_error()
    {
        _system.Spawn(Props.Create(() => new Echo()), "twin");

        var error = Assert.Throws<InvalidActorNameException>(() => _system.Spawn(Props.Create(() => new Echo()), "twin"));
        Assert.Contains("'twin'", error.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/user", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tell_null_throws_ArgumentNullException()
    {
        var echo = _system.Spawn(Props.Create(() => new Echo()));

        Assert.Throws<ArgumentNullException>(() => echo.Tell(null!, null));
        Assert.Throws<ArgumentNullException>(() => echo.Tell(null!));
    }

    [Fact]
    public async Task Ask_returns_the_reply()
    {
        var echo = _system.Spawn(Props.Create(() => new Echo()));

        Assert.Equal(42, await echo.Ask<int>(42, TimeSpan.FromSeconds(5)));
    }
}
