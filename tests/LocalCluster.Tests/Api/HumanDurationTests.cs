using Kube.Local.Api;

namespace Kube.Local.Tests.Api;

/// <summary>The AGE column format (apimachinery's duration.HumanDuration).</summary>
public sealed class HumanDurationTests
{
    [Theory]
    [InlineData(-5, "<invalid>")]
    [InlineData(0, "0s")]
    [InlineData(119, "119s")]
    [InlineData(120, "2m")]
    [InlineData(125, "2m5s")]
    [InlineData(600, "10m")]
    [InlineData(3 * 3600, "3h")]
    [InlineData(3 * 3600 + 1800, "3h30m")]
    [InlineData(9 * 3600, "9h")]
    [InlineData(50 * 3600, "2d2h")]
    [InlineData(10 * 86400, "10d")]
    [InlineData(3 * 365 * 86400 + 5 * 86400, "3y5d")]
    [InlineData(9 * 365 * 86400, "9y")]
    public void Formats(int seconds, string expected) =>
        Assert.Equal(expected, TableConverter.HumanDuration(TimeSpan.FromSeconds(seconds)));
}
