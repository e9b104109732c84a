namespace Recall.TestKit.Tests;

public sealed class TestKitSettingsTests
{
    [Fact]
    public void The_time_factor_comes_from_the_environment_and_defaults_to_1()
    {
        var text = Environment.GetEnvironmentVariable(TestKitSettings.TimeFactorVariable);
        var expected = string.IsNullOrWhiteSpace(text) ? 1 : double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

        Assert.Equal("RECALL_TEST_TIME_FACTOR", TestKitSettings.TimeFactorVariable);
        Assert.Equal(expected, TestKitSettings.TimeFactor);
    }

    [Fact]
    public void Defaults_are_stretched_by_the_time_factor()
    {
        var factor = TestKitSettings.TimeFactor;

        Assert.Equal(TimeSpan.FromSeconds(3) * factor, TestKitSettings.DefaultTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100) * factor, TestKitSettings.DefaultNoMessageDuration);
        Assert.Equal(TimeSpan.FromSeconds(10) * factor, TestKitSettings.Dilated(TimeSpan.FromSeconds(10)));
    }
}
