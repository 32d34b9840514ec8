using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class LatencyHistogramTests
{
    private static readonly LatencyHistogram Sample = new([0.1, 0.2, 0.25, double.PositiveInfinity], [50, 90, 96, 100]);

    public static TheoryData<double, long, long> Slower => new()
    {
        { 0.2, 10, 10 }, // a bound: exact
        { 0.1, 50, 50 },
        { 0.22, 4, 10 }, // between bounds: only a range is known
        { 0.05, 50, 100 },
        { 5, 0, 4 },
    };

    [Theory]
    [MemberData(nameof(Slower))]
    public void Counts_requests_slower_than_a_threshold(double threshold, long min, long max)
    {
        Assert.Equal((min, max), Sample.SlowerThan(threshold));
    }

    [Fact]
    public void Estimates_quantiles_for_humans_inside_their_bucket()
    {
        Assert.Equal(0.1, Sample.Quantile(0.5)!.Value, 9); // exactly the 50th request's bound
        Assert.InRange(Sample.Quantile(0.95)!.Value, 0.2, 0.25);
        Assert.Equal(0.25, Sample.Quantile(0.99)); // in the +Inf bucket: the highest finite bound
        Assert.Null(new LatencyHistogram([double.PositiveInfinity], [0]).Quantile(0.95));
    }

    [Fact]
    public void Two_layouts_compare_on_the_bounds_they_share()
    {
        var coarse = new LatencyHistogram([0.1, 0.25, double.PositiveInfinity], [40, 80, 90]);

        var common = Sample.CommonBounds(coarse);

        Assert.Equal([0.1, 0.25, double.PositiveInfinity], common);
        Assert.Equal([50L, 46, 4], Sample.At(common).BucketCounts());
    }

    [Theory]
    [InlineData(new[] { 0.1, 0.2 }, new long[] { 1, 2 })]
    [InlineData(new[] { 0.2, 0.1, double.PositiveInfinity }, new long[] { 1, 2, 3 })]
    [InlineData(new[] { 0.1, double.PositiveInfinity }, new long[] { 5, 3 })]
    public void Refuses_malformed_histograms(double[] bounds, long[] cumulative)
    {
        Assert.Throws<ArgumentException>(() => new LatencyHistogram(bounds, cumulative));
    }

    [Fact]
    public void GruServer_layout_has_ten_bounds_a_decade_and_the_SLO_thresholds()
    {
        var standard = LatencyBuckets.Standard;
        Assert.Equal(0.0005, standard[0]);
        Assert.Equal(10, standard[^1]);
        Assert.All(standard.Zip(standard.Skip(1)), pair => Assert.InRange(pair.Second / pair.First, 1.2, 1.3));
        Assert.Contains(0.2, standard);

        var with = LatencyBuckets.With([TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(230)]);
        Assert.Equal(standard.Count + 1, with.Count); // 200 ms already is a bound
        Assert.Contains(0.23, with);
        Assert.Equal(with.Order(), with);
    }

    [Theory]
    [InlineData("200ms,1s", new[] { 200, 1000 }, null)]
    [InlineData("", new int[0], null)]
    [InlineData("200", null, "'200'")]
    [InlineData("0.5ms", null, "between 1ms and 1h")]
    [InlineData("1ms,2ms,3ms,4ms,5ms,6ms,7ms,8ms,9ms", null, "at most 8")]
    public void Parses_the_flag_or_says_what_is_wrong(string text, int[]? milliseconds, string? error)
    {
        var ok = LatencyBuckets.TryParse(text, out var thresholds, out var why);

        Assert.Equal(milliseconds is not null, ok);
        if (milliseconds is not null)
        {
            Assert.Equal(milliseconds.Select(m => TimeSpan.FromMilliseconds(m)), thresholds);
            Assert.Equal(text, LatencyBuckets.Format(thresholds));
        }
        else
        {
            Assert.Contains(error!, why, StringComparison.Ordinal);
        }
    }
}
