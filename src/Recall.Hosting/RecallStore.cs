using Recall.Persistence;

namespace Recall.Hosting;

/// <summary>
/// A store a host can run on, added by its package's method on <see cref="RecallBuilder"/>
/// (<c>UseSqlite</c> in Recall.Persistence.Sqlite, <c>UsePostgreSql</c> in
/// Recall.Persistence.PostgreSql), so that Recall.Hosting itself brings no database driver.
/// <c>Recall:Store</c> chooses among the added stores (and <c>memory</c>, always there) by
/// <see cref="Names"/>; when it says nothing, the store added last runs.
/// </summary>
/// <remarks>
/// A store of one's own can be added the same way: derive from this class and call
/// <see cref="RecallBuilder.AddStore"/>. Its settings bind from the section <see cref="Section"/> of the
/// configuration given to <c>AddRecall</c> (<see cref="RecallBuilder.Configuration"/>).
/// </remarks>
public abstract class RecallStore
{
    /// <summary>A store chosen by any of <paramref name="names"/> (the first is its name in messages), with settings under <paramref name="section"/>.</summary>
    /// <exception cref="ArgumentException">No name is given, a name is empty, or the section is empty.</exception>
    protected RecallStore(string section, params string[] names)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(section);
        ArgumentNullException.ThrowIfNull(names);
        if (names.Length == 0 || names.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("A store needs at least one name, and no empty one.", nameof(names));
        }

        Section = section;
        Names = names;
    }

    /// <summary>The names <c>Recall:Store</c> chooses it by (any case); the first is its name in messages.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>
    /// The key of its settings under the <c>Recall</c> section (<c>Sqlite</c> for <c>Recall:Sqlite:Path</c>):
    /// binding <see cref="RecallOptions"/> leaves it to the store instead of refusing it as unknown.
    /// </summary>
    public string Section { get; }

    /// <summary>
    /// Checks the store's settings without opening anything, and returns one message per wrong
    /// setting, naming its configuration key (<paramref name="sectionPath"/> and the setting, e.g.
    /// <c>Recall:Sqlite:Path</c>). Called when the host starts, for the chosen store only.
    /// </summary>
    /// <param name="sectionPath">The configuration path of <see cref="Section"/>, e.g. <c>Recall:Sqlite</c>.</param>
    public abstract IEnumerable<string> Validate(string sectionPath);

    /// <summary>Makes <paramref name="persistence"/> use the store; <paramref name="services"/> are the host's (for its content root, say).</summary>
    public abstract void Apply(PersistenceOptions persistence, IServiceProvider services);

    /// <summary>
    /// Runs <paramref name="check"/> (binding the settings and their own validation) and returns what
    /// failed as messages naming keys: a binder's error (an unknown key, a value it cannot convert)
    /// as it is, an <see cref="ArgumentException"/> whose message names <c>Type.Setting</c>
    /// (<paramref name="settingsType"/>) with the key instead (<paramref name="sectionPath"/>:Setting).
    /// </summary>
    protected static IEnumerable<string> Failures(Action check, string settingsType, string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(check);
        try
        {
            check();
            return [];
        }
        catch (InvalidOperationException exception)
        {
            return [exception.Message];
        }
        catch (ArgumentException exception)
        {
            return [exception.Message.Replace(settingsType + ".", sectionPath + ":", StringComparison.Ordinal)];
        }
    }
}
