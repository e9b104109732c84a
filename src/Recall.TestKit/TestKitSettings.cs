using System.Globalization;

namespace Recall.TestKit;

/// <summary>
/// Timeouts of the test kit. Every default is multiplied by the factor in the environment
/// variable <c>RECALL_TEST_TIME_FACTOR</c> (for example 3 on a slow CI machine).
/// </summary>
public static class TestKitSettings
{
    /// <summary>The name of the environment variable that stretches every default timeout.</summary>
    public const string TimeFactorVariable = "RECALL_TEST_TIME_FACTOR";

    /// <summary>The factor read from <see cref="TimeFactorVariable"/>; 1 when unset.</summary>
    public static double TimeFactor { get; } = ReadFactor();

    /// <summary>How long an expectation waits by default: 3 s times <see cref="TimeFactor"/>.</summary>
    public static TimeSpan DefaultTimeout => Dilated(TimeSpan.FromSeconds(3));

    /// <summary>How long <c>ExpectNoMsg</c> watches by default: 100 ms times <see cref="TimeFactor"/>.</summary>
    public static TimeSpan DefaultNoMessageDuration => Dilated(TimeSpan.FromMilliseconds(100));

    /// <summary>A duration stretched by <see cref="TimeFactor"/>.</summary>
    public static TimeSpan Dilated(TimeSpan duration) => duration * TimeFactor;

    private static double ReadFactor()
    {
        var text = Environment.GetEnvironmentVariable(TimeFactorVariable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return 1;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var factor) || factor <= 0)
        {
            throw new InvalidOperationException($"{TimeFactorVariable}='{text}' is not a positive number.");
        }

        return factor;
    }
}
