using Recall.Actors;
using Recall.Persistence;
using Recall.Persistence.Serialization;

namespace Recall.Hosting.Tests;

/// <summary>A service an actor gets from the container.</summary>
public interface IGreetingFormatter
{
    string Format(string salutation, string name);
}

public sealed class GreetingFormatter : IGreetingFormatter
{
    public string Format(string salutation, string name) => $"{salutation}, {name}!";
}

/// <summary>Greets with a formatter from the container and a salutation given at registration.</summary>
public sealed class Greeter(IGreetingFormatter formatter, string salutation) : Actor
{
    protected override void Receive(object message)
    {
        if (message is string name)
        {
            Sender.Tell(formatter.Format(salutation, name), Self);
        }
        else
        {
            Unhandled(message);
        }
    }
}

public sealed record Add(int Amount);

public sealed record GetTotal;

[EventType("hosting-tests.added.v1")]
public sealed record Added(int Amount);

/// <summary>A persistent counter; replies its new total once the event is stored.</summary>
public sealed class Counter : PersistentActor
{
    private int _total;

    public override string PersistenceId => "counter";

    protected override void ReceiveCommand(object command)
    {
        switch (command)
        {
            case Add add:
                Persist(new Added(add.Amount), e =>
                {
                    _total += e.Amount;
                    Sender.Tell(_total, Self);
                });
                break;
            case GetTotal:
                Sender.Tell(_total, Self);
                break;
            default:
                Unhandled(command);
                break;
        }
    }

    protected override void ReceiveRecover(object message)
    {
        if (message is Added e)
        {
            _total += e.Amount;
        }
    }
}
