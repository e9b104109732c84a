using Microsoft.Extensions.Logging;
using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class LoggingTests : IAsyncLifetime
{
    private readonly CapturingLoggerProvider _logs;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ActorSystem _system;

    public LoggingTests()
    {
        _loggerFactory = CapturingLoggerProvider.CreateFactory(out _logs);
        _system = ActorSystem.Create("test", o =>
        {
            o.LoggerFactory = _loggerFactory;
            o.DeadLetterLogLimit = 3;
        });
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _system.TerminateAsync();
        _loggerFactory.Dispose();
    }

    private sealed record Explode(string Why);

    private sealed class Fragile : Actor
    {
        protected override void Receive(object message)
        {
            switch (message)
            {
                case Explode explode:
                    throw new InvalidOperationException(explode.Why);
                case "log":
#pragma warning disable CA1848, CA1873 // a test needs no cached log delegates
                    Context.Logger.LogInformation("hello from {Path}", Self.Path);
#pragma warning restore CA1848, CA1873
                    Sender.Tell("logged", Self);
                    break;
                default:
                    Unhandled(message);
                    break;
            }
        }
    }

    [Fact]
    public async Task A_failure_is_logged_with_the_actor_path_the_message_type_and_the_directive()
    {
        var probe = new TestProbe(_system);
        var fragile = _system.Spawn(Props.Create(() => new Fragile()), "fragile");
        probe.Watch(fragile);

        fragile.Tell(new Explode("kaput"), null);

        await Eventually.TrueAsync(() => _logs.Entries.Any(e => e.Exception is InvalidOperationException), "the failure is logged");
        var entry = _logs.Entries.Single(e => e.Exception is InvalidOperationException);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("kaput", entry.Exception!.Message);
        Assert.Contains("recall://test/user/fragile", entry.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(Explode), entry.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(Directive.Restart), entry.Message, StringComparison.Ordinal);
        Assert.Equal(nameof(Explode), entry.Values["MessageType"]);
        Assert.Equal(Directive.Restart, entry.Values["Directive"]);
    }

    [Fact]
    public async Task A_tell_to_a_stopped_actor_is_a_dead_letter_that_is_counted_and_logged()
    {
        var probe = new TestProbe(_system);
        var fragile = _system.Spawn(Props.Create(() => new Fragile()), "gone");
        probe.Watch(fragile);
        _system.Stop(fragile);
        await probe.ExpectTerminatedAsync(fragile);
        var before = _system.DeadLetterCount;

        fragile.Tell(new Explode("too late"), probe.Ref);

        await Eventually.TrueAsync(() => _system.DeadLetterCount == before + 1, "the dead letter is counted");
        await Eventually.TrueAsync(() => _logs.Entries.Any(e => e.Message.StartsWith("Dead letter", StringComparison.Ordinal)), "the dead letter is logged");
        var entry = _logs.Entries.Single(e => e.Message.StartsWith("Dead letter", StringComparison.Ordinal));
        Assert.Contains(nameof(Explode), entry.Message, StringComparison.Ordinal);
        Assert.Contains("recall://test/user/gone", entry.Message, StringComparison.Ordinal);
        Assert.Contains(probe.Ref.Path.ToString(), entry.Message, StringComparison.Ordinal);
        await probe.ExpectNoMsgAsync(); // and it was not delivered anywhere
    }

    [Fact]
    public void Dead_letters_are_all_counted_but_only_the_first_ones_logged()
    {
        var before = _system.DeadLetterCount;

        for (var i = 0; i < 6; i++)
        {
            _system.DeadLetters.Tell($"letter {i}", null);
        }

        Assert.Equal(before + 6, _system.DeadLetterCount);
        var logged = _logs.Entries.Where(e => e.Message.StartsWith("Dead letter", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, logged.Count);
        Assert.Single(_logs.Entries, e => e.Message.Contains("3 dead letters logged", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unhandled_messages_are_logged_at_debug_level_with_path_and_type()
    {
        var fragile = _system.Spawn(Props.Create(() => new Fragile()), "picky");

        fragile.Tell(12.5, null);

        await Eventually.TrueAsync(() => _logs.Entries.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("did not handle", StringComparison.Ordinal)), "the unhandled message is logged");
        var entry = _logs.Entries.Single(e => e.Message.Contains("did not handle", StringComparison.Ordinal));
        Assert.Contains("recall://test/user/picky", entry.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(Double), entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_actor_logs_through_a_logger_named_after_its_type()
    {
        var fragile = _system.Spawn(Props.Create(() => new Fragile()), "talker");

        Assert.Equal("logged", await fragile.Ask<string>("log", TimeSpan.FromSeconds(5)));

        var entry = _logs.Entries.Single(e => e.Message.StartsWith("hello from", StringComparison.Ordinal));
        Assert.Contains(nameof(Fragile), entry.Category, StringComparison.Ordinal);
        Assert.Contains("recall://test/user/talker", entry.Message, StringComparison.Ordinal);
    }
}
