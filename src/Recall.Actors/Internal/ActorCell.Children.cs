namespace Recall.Actors.Internal;

/// <summary>
/// The children: spawning and looking them up, and their removal once stopped (which may finish a
/// parent's own stop or restart, both of which wait for their children).
/// </summary>
internal sealed partial class ActorCell
{
    public IReadOnlyCollection<IActorRef> Children
    {
        get
        {
            var children = _extras?.Children;
            if (children is null)
            {
                return [];
            }

            lock (children)
            {
                return children.Values.Where(c => !c._stopRequested).Select(c => (IActorRef)c.Self).ToArray();
            }
        }
    }

    /// <summary>Adds the children (also those stopping) to <paramref name="cells"/>.</summary>
    public void AddChildrenTo(List<ActorCell> cells)
    {
        var children = Volatile.Read(ref _extras)?.Children;
        if (children is null)
        {
            return;
        }

        lock (children)
        {
            cells.AddRange(children.Values);
        }
    }

    private bool HasChildren()
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return false;
        }

        lock (children)
        {
            return children.Count > 0;
        }
    }

    private bool HasStoppingChildren()
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return false;
        }

        lock (children)
        {
            foreach (var child in children.Values)
            {
                if (child._stopRequested)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public IActorRef Spawn(Props props, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(props);
        var extras = EnsureExtras();
        var children = LazyInitializer.EnsureInitialized(ref extras.Children, static () => new(StringComparer.Ordinal));
        ActorCell child;
        lock (children)
        {
            if (_state >= CellState.Terminating)
            {
                throw new InvalidOperationException($"Cannot spawn a child of {Self.Path}: it is stopping.");
            }

            if (name is null)
            {
                name = ActorNames.Generate(extras.NextChildNumber++);
            }
            else
            {
                ActorNames.Validate(name, Self.Path);
            }

            if (children.ContainsKey(name))
            {
                throw new InvalidActorNameException($"An actor named '{name}' already exists under {Self.Path}.");
            }

            child = new ActorCell(_system, this, props, Self.Path.Child(name));
            children.Add(name, child);
        }

        child.SendSystem(new Create());
        return child.Self;
    }

    public IActorRef? Child(string name)
    {
        var children = _extras?.Children;
        if (children is null)
        {
            return null;
        }

        lock (children)
        {
            return children.TryGetValue(name, out var child) && !child._stopRequested ? child.Self : null;
        }
    }

    private void OnChildTerminated(ActorCell child)
    {
        var children = _extras?.Children;
        if (children is not null)
        {
            lock (children)
            {
                if (children.TryGetValue(child.Self.Path.Name, out var registered) && registered == child)
                {
                    children.Remove(child.Self.Path.Name);
                }
            }
        }

        if (_extras?.Watching?.Remove(child.Self) == true)
        {
            QueueTerminated(child.Self);
        }

        if (_state == CellState.Terminating && !HasChildren())
        {
            FinishTerminate();
        }
        else if (_state == CellState.Recreating && !HasStoppingChildren())
        {
            FinishRecreate();
        }
    }
}
