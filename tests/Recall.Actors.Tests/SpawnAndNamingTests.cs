using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class SpawnAndNamingTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed class Idle : Actor
    {
        protected override void Receive(object message) => Unhandled(message);
    }

    /// <summary>Reports its context's view of its parent and children on request.</summary>
    private sealed class Family : Actor
    {
        protected override void Receive(object message)
        {
            switch (message)
            {
                case SpawnChild spawn:
                    try
                    {
                        Sender.Tell(Context.Spawn(spawn.Props, spawn.Name), Self);
                    }
                    catch (InvalidActorNameException error)
                    {
                        Sender.Tell(new Status.Failure(error), Self);
                    }

                    break;
                case "parent":
                    Sender.Tell(Context.Parent, Self);
                    break;
                case "children":
                    Sender.Tell(Context.Children.Select(c => c.Path.Name).Order().ToArray(), Self);
                    break;
                case string name:
                    Sender.Tell((object?)Context.Child(name) ?? "none", Self);
                    break;
            }
        }
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("sys.tem")]
    public void Create_rejects_a_malformed_system_name(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => ActorSystem.Create(name));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_rejects_an_empty_system_name() =>
        Assert.ThrowsAny<ArgumentException>(() => ActorSystem.Create(""));

    [Fact]
    public void Create_rejects_invalid_options()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ActorSystem.Create("bad", o => o.Throughput = 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ActorSystem.Create("bad", o => o.DefaultStashCapacity = 0));
    }

    [Theory]
    [InlineData("a/b", "'/'")]
    [InlineData("a b", "' '")]
    [InlineData("a#b", "'#'")]
    [InlineData("a?b", "'?'")]
    [InlineData("$generated", "'$'")]
    [InlineData("", "empty")]
    public void Spawn_rejects_an_invalid_name_and_says_why(string name, string reason)
    {
        var error = Assert.Throws<InvalidActorNameException>(() => _system.Spawn(Props.Create(() => new Idle()), name));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/user", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wallet-alice")]
    [InlineData("a_b.c:d@e")]
    [InlineData("x(1)")]
    [InlineData("ünïcode")]
    public void Spawn_accepts_valid_names(string name)
    {
        var actor = _system.Spawn(Props.Create(() => new Idle()), name);

        Assert.Equal(name, actor.Path.Name);
        Assert.Equal("recall://test/user/" + name, actor.Path.ToString());
    }

    [Fact]
    public void Generated_names_are_unique_and_marked_with_a_dollar()
    {
        var names = Enumerable.Range(0, 200).Select(_ => _system.Spawn(Props.Create(() => new Idle())).Path).ToList();

        Assert.All(names, path => Assert.StartsWith("$", path.Name, StringComparison.Ordinal));
        Assert.All(names, path => Assert.Equal("/user", path.Parent!.ToStringWithoutAddress()));
        Assert.Equal(names.Count, names.Select(p => p.Name).Distinct().Count());
    }

    [Fact]
    public async Task Child_paths_are_hierarchical_and_carry_the_address()
    {
        var a = _system.Spawn(Props.Create(() => new Family()), "a");
        var b = await a.SpawnChildAsync(Props.Create(() => new Family()), "b");
        var c = await b.SpawnChildAsync(Props.Create(() => new Idle()));

        Assert.Equal("recall://test/user/a/b", b.Path.ToString());
        Assert.Equal("/user/a/b", b.Path.ToStringWithoutAddress());
        Assert.Equal(["user", "a", "b"], b.Path.Elements);
        Assert.Equal(3, b.Path.Depth);
        Assert.Equal(a.Path, b.Path.Parent);
        Assert.Equal(b.Path, c.Path.Parent);
        Assert.StartsWith("recall://test/user/a/b/$", c.Path.ToString(), StringComparison.Ordinal);
        Assert.Equal(new Address("test"), c.Path.Address);
    }

    [Fact]
    public async Task A_system_with_a_host_puts_it_in_every_path()
    {
        await using var remote = ActorSystem.Create("shop", o =>
        {
            o.Host = "node1";
            o.Port = 4053;
        });

        var actor = remote.Spawn(Props.Create(() => new Idle()), "a");

        Assert.Equal("recall://shop@node1:4053/user/a", actor.Path.ToString());
        Assert.False(actor.Path.Address.IsLocal);
        Assert.True(_system.Address.IsLocal);
    }

    [Fact]
    public void Paths_with_the_same_elements_are_equal()
    {
        var root = ActorPath.Root(new Address("test"));
        var left = root.Child("user").Child("a");
        var right = root.Child("user").Child("a");

        Assert.Equal(left, right);
        Assert.Equal(left.GetHashCode(), right.GetHashCode());
        Assert.NotEqual(left, root.Child("user").Child("b"));
        Assert.NotEqual(left, ActorPath.Root(new Address("other")).Child("user").Child("a"));
    }

    [Fact]
    public async Task Names_are_unique_per_parent_but_may_repeat_under_other_parents()
    {
        var a = _system.Spawn(Props.Create(() => new Family()), "a");
        var b = _system.Spawn(Props.Create(() => new Family()), "b");
        await a.SpawnChildAsync(Props.Create(() => new Idle()), "kid");
        var cousin = await b.SpawnChildAsync(Props.Create(() => new Idle()), "kid");

        var error = await Assert.ThrowsAsync<InvalidActorNameException>(() => a.SpawnChildAsync(Props.Create(() => new Idle()), "kid"));

        Assert.Equal("recall://test/user/b/kid", cousin.Path.ToString());
        Assert.Contains("'kid'", error.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/user/a", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_context_knows_parent_and_children()
    {
        var probe = new TestProbe(_system);
        var a = _system.Spawn(Props.Create(() => new Family()), "a");
        var one = await a.SpawnChildAsync(Props.Create(() => new Family()), "one");
        await a.SpawnChildAsync(Props.Create(() => new Idle()), "two");

        probe.Send(one, "parent");
        Assert.Same(a, await probe.ExpectMsgAsync<IActorRef>());
        probe.Send(a, "children");
        Assert.Equal(["one", "two"], await probe.ExpectMsgAsync<string[]>());
        probe.Send(a, "one");
        Assert.Same(one, await probe.ExpectMsgAsync<IActorRef>());
        probe.Send(a, "three");
        await probe.ExpectMsgAsync("none");
    }

    [Fact]
    public void Creating_an_actor_with_new_outside_Spawn_is_an_error()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new Idle());

        Assert.Contains("Props.Create", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Stress tests that load both cores; they run alone, after the parallel tests.</summary>
[Collection(StressTests.Name)]
public sealed class ConcurrentSpawnTests
{
    [Fact]
    public async Task Concurrent_top_level_spawns_from_many_threads_all_become_children()
    {
        // Regression: the guardian's lazily created child registry was not thread-safe, so two
        // threads spawning into a new system at once could lose a child, which TerminateAsync then
        // never stopped. The race is narrow: many fresh systems, two threads in lock step.
        const int rounds = 1000;
        const int threads = 2;
        var systems = Enumerable.Range(0, rounds).Select(_ => ActorSystem.Create("race")).ToArray();
        var stopped = 0;
        var props = Props.Create(() => new CountingStop(() => Interlocked.Increment(ref stopped)));
        var arrived = 0;
        var finished = Enumerable.Range(0, threads).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        for (var n = 0; n < threads; n++)
        {
            var name = "a" + n;
            var done = finished[n];
            new Thread(() =>
            {
                try
                {
                    for (var round = 0; round < rounds; round++)
                    {
                        // A spinning barrier: both threads spawn into the same new system together.
                        Interlocked.Increment(ref arrived);
                        var spin = default(SpinWait);
                        while (Volatile.Read(ref arrived) < (round + 1) * threads)
                        {
                            spin.SpinOnce(sleep1Threshold: -1);
                        }

                        systems[round].Spawn(props, name);
                    }

                    done.SetResult();
                }
                catch (Exception error)
                {
                    done.SetException(error);
                }
            }) { IsBackground = true }.Start();
        }

        await Task.WhenAll(finished.Select(f => f.Task)).WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(systems.Select(s => s.TerminateAsync())).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(rounds * threads, Volatile.Read(ref stopped));
    }

    private sealed class CountingStop(Action onStop) : Actor
    {
        protected override void Receive(object message) => Unhandled(message);

        protected override void PostStop() => onStop();
    }
}
