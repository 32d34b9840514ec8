using GruServer.Hosting;

namespace GruServer.Tests.Hosting;

public sealed class DurationTextTests
{
    [Theory]
    [InlineData("150ms", 150)]
    [InlineData("0ms", 0)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m", 60_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData(" 20ms ", 20)]
    public void ParsesDurations(string text, double milliseconds)
    {
        Assert.True(DurationText.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("150")]
    [InlineData("ms")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("fast")]
    [InlineData("NaNs")]
    public void RejectsWhatIsNotADuration(string text) => Assert.False(DurationText.TryParse(text, out _));
}
