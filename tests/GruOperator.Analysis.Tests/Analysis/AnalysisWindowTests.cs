using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class AnalysisWindowTests
{
    private static readonly DateTimeOffset Since = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(30)]
    [InlineData(1)]
    [InlineData(600)]
    public void Spans_exactly_the_traffic_since_the_previous_run(int seconds)
    {
        var window = AnalysisWindow.Between(Since, Since.AddSeconds(seconds));

        Assert.Equal((Since, Since.AddSeconds(seconds), TimeSpan.FromSeconds(seconds)), (window.Start, window.End, window.Length));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-30)]
    public void Refuses_an_empty_or_inverted_window(int seconds)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => AnalysisWindow.Between(Since, Since.AddSeconds(seconds)));
        Assert.Contains("must end after it starts", error.Message, StringComparison.Ordinal);
    }
}
