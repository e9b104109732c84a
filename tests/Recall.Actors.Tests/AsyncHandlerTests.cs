using Recall.TestKit;

namespace Recall.Actors.Tests;

public sealed class AsyncHandlerTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("test");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _system.TerminateAsync();

    private sealed record Work(Task Until, string Done);

    private sealed record FailLater(Task Until);

    /// <summary>
    /// "Work" runs an async handler that awaits a task then replies to its Sender; everything
    /// else is reported to the probe. Reports its restarts.
    /// </summary>
    private sealed class Worker(IActorRef probe) : Actor
    {
        private int _owner;
        private int _depth;

        protected override void PostRestart(Exception reason) => probe.Tell($"restarted: {reason.Message}", Self);

        protected override void Receive(object message)
        {
            Enter();
            try
            {
                switch (message)
                {
                    case Work work:
                        RunTask(async () =>
                        {
                            await work.Until;
                            Enter();
                            try
                            {
                                Sender.Tell(work.Done, Self); // the Sender of the Work message
                            }
                            finally
                            {
                                Exit();
                            }
                        });
                        break;
                    case FailLater fail:
                        RunTask(async () =>
                        {
                            await fail.Until;
                            throw new InvalidOperationException("async failure");
                        });
                        break;
                    case "fail-at-once":
                        RunTask(() => Task.FromException(new InvalidOperationException("faulted at once")));
                        break;
                    case "sync-throw":
                        RunTask(async () =>
                        {
                            await Task.CompletedTask;
                            throw new InvalidOperationException("thrown before any await yielded");
                        });
                        break;
                    case "run-task-off-actor":
                        var sender = Sender;
                        _ = Task.Run(() =>
                        {
                            try
                            {
                                RunTask(() => Task.CompletedTask);
                                sender.Tell("no error", null);
                            }
                            catch (InvalidOperationException error)
                            {
                                sender.Tell(error.GetType().Name, null);
                            }
                        });
                        break;
                    default:
                        probe.Tell(message, Sender);
                        break;
                }
            }
            finally
            {
                Exit();
            }
        }

        // Overlap detection that allows re-entry on the same thread (a task that completes at
        // once runs its continuation inline, inside Receive).
        private void Enter()
        {
            var me = Environment.CurrentManagedThreadId;
            var owner = Interlocked.CompareExchange(ref _owner, me, 0);
            if (owner != 0 && owner != me)
            {
                probe.Tell("OVERLAP", null);
            }

            _depth++;
        }

        private void Exit()
        {
            if (--_depth == 0)
            {
                Volatile.Write(ref _owner, 0);
            }
        }
    }

    [Fact]
    public async Task RunTask_holds_back_user_messages_until_the_task_completes_then_handles_them_in_order()
    {
        var probe = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));
        var gate = new Gate();

        probe.Send(worker, new Work(gate.Task, "work done"));
        probe.Send(worker, "a");
        probe.Send(worker, "b");
        await probe.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200)); // "a" and "b" wait for the work

        gate.Open();

        await probe.ExpectMsgAsync("work done");
        await probe.ExpectMsgAsync("a");
        await probe.ExpectMsgAsync("b");
    }

    [Fact]
    public async Task Continuations_see_the_sender_of_the_message_that_started_the_task()
    {
        var probe = new TestProbe(_system);
        var asker = new TestProbe(_system);
        var other = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));
        var gate = new Gate();

        asker.Send(worker, new Work(gate.Task, "for the asker"));
        other.Send(worker, "from another sender");
        gate.Open();

        await asker.ExpectMsgAsync("for the asker");
        Assert.Same(worker, asker.LastSender);
        await probe.ExpectMsgAsync("from another sender");
        Assert.Same(other.Ref, probe.LastSender);
        await other.ExpectNoMsgAsync();
    }

    [Fact]
    public async Task Continuations_never_overlap_with_other_handling()
    {
        var probe = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));
        const int count = 200;

        for (var i = 0; i < count; i++)
        {
            probe.Send(worker, new Work(Task.Delay(1), $"done {i}"));
            probe.Send(worker, $"plain {i}");
        }

        for (var i = 0; i < count; i++)
        {
            await probe.ExpectMsgAsync($"done {i}");
            await probe.ExpectMsgAsync($"plain {i}");
        }
    }

    [Fact]
    public async Task An_exception_in_the_task_fails_the_actor_and_its_supervisor_restarts_it()
    {
        var probe = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));
        var gate = new Gate();

        probe.Send(worker, new FailLater(gate.Task));
        probe.Send(worker, "after");
        gate.Open();

        await probe.ExpectMsgAsync("restarted: async failure");
        await probe.ExpectMsgAsync("after"); // queued behind the failing message: kept for the new instance
    }

    [Theory]
    [InlineData("fail-at-once", "faulted at once")]
    [InlineData("sync-throw", "thrown before any await yielded")]
    public async Task A_task_that_fails_without_yielding_fails_the_actor_too(string command, string reason)
    {
        var probe = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));

        probe.Send(worker, command);
        probe.Send(worker, "after");

        await probe.ExpectMsgAsync($"restarted: {reason}");
        await probe.ExpectMsgAsync("after");
    }

    [Fact]
    public async Task RunTask_outside_the_actor_turn_is_refused()
    {
        var probe = new TestProbe(_system);
        var worker = _system.Spawn(Props.Create(() => new Worker(probe.Ref)));

        Assert.Equal(nameof(InvalidOperationException), await worker.Ask<string>("run-task-off-actor", TimeSpan.FromSeconds(5)));
    }

    /// <summary>Answers a question by asking another actor from an async handler.</summary>
    private sealed class Relay(IActorRef oracle) : Actor
    {
        protected override void Receive(object message) => RunTask(async () =>
        {
            var answer = await oracle.Ask<string>(message, TimeSpan.FromSeconds(5));
            Sender.Tell($"oracle says {answer}", Self);
        });
    }

    private sealed class Oracle : Actor
    {
        protected override void Receive(object message) => Sender.Tell(((string)message).ToUpperInvariant(), Self);
    }

    [Fact]
    public async Task An_async_handler_can_ask_another_actor_and_reply_to_its_sender()
    {
        var oracle = _system.Spawn(Props.Create(() => new Oracle()));
        var relay = _system.Spawn(Props.Create(() => new Relay(oracle)));

        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => relay.Ask<string>($"q{i}", TimeSpan.FromSeconds(5))));

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"oracle says Q{i}"), answers);
    }

    [Fact]
    public async Task An_async_handler_that_resumes_after_its_actor_stopped_still_runs_its_finally_block()
    {
        // A handler holding a resource (a connection, a semaphore slot) must release it even when the
        // actor stopped while it awaited: the continuation is not dropped.
        var gate = new Gate();
        var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holder = _system.Spawn(Props.Create(() => new Holder(gate.Task, released)));
        var watcher = new TestProbe(_system);
        watcher.Watch(holder);
        Assert.Equal("holding", await holder.Ask<string>("hold", TimeSpan.FromSeconds(10)));

        _system.Stop(holder);
        await watcher.ExpectTerminatedAsync(holder);
        gate.Open();

        await released.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>On "hold", starts an async handler that awaits <c>until</c> and then, in a finally block, completes <c>released</c>.</summary>
    private sealed class Holder(Task until, TaskCompletionSource released) : Actor
    {
        protected override void Receive(object message)
        {
            Sender.Tell("holding", Self);
            RunTask(async () =>
            {
                try
                {
                    await until;
                }
                finally
                {
                    released.SetResult();
                }
            });
        }
    }
}
