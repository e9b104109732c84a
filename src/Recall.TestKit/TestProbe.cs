using System.Threading.Channels;
using Recall.Actors;

namespace Recall.TestKit;

/// <summary>
/// An actor driven by a test: whatever is sent to <see cref="Ref"/> is queued, and the test takes
/// it back with expectations that wait up to a timeout. Each expectation has an async form for
/// async tests and a blocking form.
/// </summary>
public sealed class TestProbe
{
    private readonly Channel<(object Message, IActorRef Sender)> _received =
        Channel.CreateUnbounded<(object, IActorRef)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Creates a probe in <paramref name="system"/>.</summary>
    public TestProbe(ActorSystem system, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        System = system;
        Ref = system.SpawnSystemActor(Props.Create(() => new ProbeActor(this)), name);
    }

    /// <summary>The system the probe lives in.</summary>
    public ActorSystem System { get; }

    /// <summary>The probe's ref: send to it, or pass it as a sender.</summary>
    public IActorRef Ref { get; }

    /// <summary>The sender of the last message taken by an expectation.</summary>
    public IActorRef? LastSender { get; private set; }

    /// <summary>Sends <paramref name="message"/> to <paramref name="target"/> with the probe as sender.</summary>
    public void Send(IActorRef target, object message)
    {
        ArgumentNullException.ThrowIfNull(target);
        target.Tell(message, Ref);
    }

    /// <summary>Replies to <see cref="LastSender"/> with the probe as sender.</summary>
    public void Reply(object message) =>
        (LastSender ?? throw new InvalidOperationException("The probe has received no message to reply to.")).Tell(message, Ref);

    /// <summary>
    /// Delivers <see cref="Terminated"/> to the probe once <paramref name="subject"/> stops. Returns once the probe's
    /// actor has sent the watch, so a message told to <paramref name="subject"/> afterwards travels behind it.
    /// </summary>
    public void Watch(IActorRef subject)
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Ref.Tell(new WatchCommand(subject, sent), null);
        if (!sent.Task.Wait(TestKitSettings.DefaultTimeout))
        {
            throw new TestKitException($"The probe did not get to watch {subject.Path} within {TestKitSettings.DefaultTimeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>Takes the next message, which must be a <typeparamref name="T"/> (and match <paramref name="predicate"/>).</summary>
    public async Task<T> ExpectMsgAsync<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null)
    {
        var wait = timeout ?? TestKitSettings.DefaultTimeout;
        var (message, sender) = await NextAsync(wait, $"a {typeof(T).Name}");
        LastSender = sender;
        if (message is not T typed)
        {
            throw new TestKitException($"Expected a {typeof(T).Name} but received {Describe(message)}.");
        }

        if (predicate is not null && !predicate(typed))
        {
            throw new TestKitException($"Received {Describe(message)}, which does not match the expectation.");
        }

        return typed;
    }

    /// <summary>Takes the next message, which must equal <paramref name="expected"/>.</summary>
    public async Task<T> ExpectMsgAsync<T>(T expected, TimeSpan? timeout = null)
        where T : notnull
    {
        var received = await ExpectMsgAsync<T>(predicate: null, timeout);
        if (!EqualityComparer<T>.Default.Equals(received, expected))
        {
            throw new TestKitException($"Expected {Describe(expected)} but received {Describe(received)}.");
        }

        return received;
    }

    /// <summary>Fails if any message arrives within <paramref name="duration"/>.</summary>
    public async Task ExpectNoMsgAsync(TimeSpan? duration = null)
    {
        var wait = duration ?? TestKitSettings.DefaultNoMessageDuration;
        using var cancellation = new CancellationTokenSource(wait);
        try
        {
            if (await _received.Reader.WaitToReadAsync(cancellation.Token) && _received.Reader.TryRead(out var item))
            {
                throw new TestKitException($"Expected no message for {wait.TotalMilliseconds:0} ms but received {Describe(item.Message)}.");
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }
    }

    /// <summary>Skips messages until one is a <typeparamref name="T"/> matching <paramref name="predicate"/>, and returns it.</summary>
    public async Task<T> FishForMessageAsync<T>(Func<T, bool> predicate, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var wait = timeout ?? TestKitSettings.DefaultTimeout;
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            var (message, sender) = await NextAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, $"a matching {typeof(T).Name}");
            if (message is T typed && predicate(typed))
            {
                LastSender = sender;
                return typed;
            }
        }
    }

    /// <summary>Waits for <see cref="Terminated"/> of <paramref name="subject"/>, which the probe must watch.</summary>
    public Task<Terminated> ExpectTerminatedAsync(IActorRef subject, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(subject);
        return ExpectMsgAsync<Terminated>(t => t.Actor.Equals(subject), timeout);
    }

    /// <summary>Blocking form of <see cref="ExpectMsgAsync{T}(Func{T, bool}?, TimeSpan?)"/>.</summary>
    public T ExpectMsg<T>(Func<T, bool>? predicate = null, TimeSpan? timeout = null) =>
        ExpectMsgAsync(predicate, timeout).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="ExpectMsgAsync{T}(T, TimeSpan?)"/>.</summary>
    public T ExpectMsg<T>(T expected, TimeSpan? timeout = null)
        where T : notnull => ExpectMsgAsync(expected, timeout).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="ExpectNoMsgAsync"/>.</summary>
    public void ExpectNoMsg(TimeSpan? duration = null) => ExpectNoMsgAsync(duration).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="FishForMessageAsync{T}"/>.</summary>
    public T FishForMessage<T>(Func<T, bool> predicate, TimeSpan? timeout = null) =>
        FishForMessageAsync(predicate, timeout).GetAwaiter().GetResult();

    /// <summary>Blocking form of <see cref="ExpectTerminatedAsync"/>.</summary>
    public Terminated ExpectTerminated(IActorRef subject, TimeSpan? timeout = null) =>
        ExpectTerminatedAsync(subject, timeout).GetAwaiter().GetResult();

    private async Task<(object Message, IActorRef Sender)> NextAsync(TimeSpan timeout, string expectation)
    {
        if (_received.Reader.TryRead(out var ready))
        {
            return ready;
        }

        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            return await _received.Reader.ReadAsync(cancellation.Token);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw new TestKitException($"Timed out after {timeout.TotalMilliseconds:0} ms waiting for {expectation} at {Ref.Path}.");
        }
    }

    private static string Describe(object? message) => message is null ? "null" : $"{message.GetType().Name} {message}";

    private sealed record WatchCommand(IActorRef Subject, TaskCompletionSource Sent);

    private sealed class ProbeActor(TestProbe probe) : Actor
    {
        protected override void Receive(object message)
        {
            if (message is WatchCommand watch)
            {
                Context.Watch(watch.Subject);
                watch.Sent.SetResult();
                return;
            }

            probe._received.Writer.TryWrite((message, Sender));
        }
    }
}

/// <summary>An expectation of the test kit was not met.</summary>
public sealed class TestKitException(string message) : Exception(message);
