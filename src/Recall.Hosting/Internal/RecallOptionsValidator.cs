using Microsoft.Extensions.Options;
using Recall.Persistence;

namespace Recall.Hosting.Internal;

/// <summary>
/// Checks <see cref="RecallOptions"/> when the host starts (ValidateOnStart), naming each wrong
/// setting by its configuration key (<c>Recall:Sqlite:Path</c>), so a bad appsettings.json stops
/// the host at once instead of failing the first persistent actor.
/// </summary>
/// <param name="section">The configuration path the options are bound from, e.g. <c>Recall</c>.</param>
/// <param name="stores">The stores added to the host, in order.</param>
internal sealed class RecallOptionsValidator(string section, IReadOnlyList<RecallStore> stores) : IValidateOptions<RecallOptions>
{
    public ValidateOptionsResult Validate(string? name, RecallOptions options)
    {
        if (name is not null && name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = new List<string>();
        CheckSystemName(options.SystemName, failures);

        if (StoreChoice.Of(options.Store, stores, out var wrongStore) is { Added: { } store })
        {
            // The store checks its own settings; nothing is opened yet.
            failures.AddRange(store.Validate(Key(store.Section)));
        }
        else if (wrongStore is not null)
        {
            failures.Add($"{Key("Store")} {wrongStore}");
        }

        var p = options.Persistence;
        Positive(p.MaxBatchSize, "MaxBatchSize", failures);
        Positive(p.MaxConcurrentRecoveries, "MaxConcurrentRecoveries", failures);
        Positive(p.CircuitBreakerMaxFailures, "CircuitBreakerMaxFailures", failures);
        Positive(p.InternalStashCapacity, "InternalStashCapacity", failures);
        Positive(p.JournalCallTimeout, "JournalCallTimeout", failures);
        Positive(p.RecoveryEventTimeout, "RecoveryEventTimeout", failures);
        Positive(p.CircuitBreakerResetTimeout, "CircuitBreakerResetTimeout", failures);
        if (p.InternalStashOverflow is { } overflow && !Enum.IsDefined(overflow))
        {
            failures.Add($"{Key("Persistence:InternalStashOverflow")} '{overflow}' is not one of: {string.Join(", ", Enum.GetNames<StashOverflowStrategy>())}.");
        }

        if (p.ReplayFilter is { } filter && !Enum.IsDefined(filter))
        {
            failures.Add($"{Key("Persistence:ReplayFilter")} '{filter}' is not one of: {string.Join(", ", Enum.GetNames<ReplayFilterMode>())}.");
        }

        if (options.DrainTimeout < TimeSpan.Zero)
        {
            failures.Add($"{Key("DrainTimeout")} must not be negative (is {options.DrainTimeout}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void CheckSystemName(string? systemName, List<string> failures)
    {
        if (string.IsNullOrEmpty(systemName))
        {
            failures.Add($"{Key("SystemName")} is empty: name the actor system, e.g. \"shop\".");
            return;
        }

        foreach (var c in systemName)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                failures.Add($"{Key("SystemName")} '{systemName}' contains '{c}': use ASCII letters, digits, '-' and '_'.");
                return;
            }
        }
    }

    private void Positive(int? value, string setting, List<string> failures)
    {
        if (value <= 0)
        {
            failures.Add($"{Key("Persistence:" + setting)} must be positive (is {value}).");
        }
    }

    private void Positive(TimeSpan? value, string setting, List<string> failures)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{Key("Persistence:" + setting)} must be positive (is {value}).");
        }
    }

    private string Key(string key) => section.Length == 0 ? key : $"{section}:{key}";
}
