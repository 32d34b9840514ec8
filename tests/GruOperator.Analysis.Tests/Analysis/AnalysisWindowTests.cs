using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class AnalysisWindowTests
{
    private static readonly DateTimeOffset End = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(30, 15, 8, 150, 15, 60)] // API default interval with a common 15 s scrape
    [InlineData(5, 1, 8, 10, 1, 4)] // the benchmark's 5 s interval with 1 s scrapes
    [InlineData(300, 15, 8, 300, 15, 60)] // a long interval: the window covers all of it
    [InlineData(10, 1, 3, 10, 1, 4)]
    public void Sizes_the_window_from_interval_and_scrape_interval(
        int intervalSeconds, int scrapeSeconds, int minSamples, int lengthSeconds, int stepSeconds, int rateSeconds)
    {
        var window = AnalysisWindow.ForInterval(End, TimeSpan.FromSeconds(intervalSeconds), TimeSpan.FromSeconds(scrapeSeconds), minSamples);

        Assert.Equal(
            (End, TimeSpan.FromSeconds(lengthSeconds), TimeSpan.FromSeconds(stepSeconds), TimeSpan.FromSeconds(rateSeconds)),
            (window.End, window.Length, window.Step, window.RateWindow));
        Assert.Equal(End - TimeSpan.FromSeconds(lengthSeconds), window.Start);
    }

    [Fact]
    public void Refuses_non_positive_inputs()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => AnalysisWindow.ForInterval(End, TimeSpan.Zero, TimeSpan.FromSeconds(15), 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => AnalysisWindow.ForInterval(End, TimeSpan.FromSeconds(30), TimeSpan.Zero, 8));
    }
}
