using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class MannWhitneyUTests
{
    [Fact]
    public void Fully_separated_samples_match_the_textbook_normal_approximation()
    {
        // R: wilcox.test(6:10, 1:5, alternative = "greater", exact = FALSE, correct = TRUE)$p.value = 0.006093
        var result = MannWhitneyU.GreaterThan([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]);

        Assert.Equal(25, result.U);
        Assert.Equal(0.006093, result.PValue, 4);
        Assert.Equal(1, result.Superiority);
    }

    [Fact]
    public void Ties_use_mid_ranks_and_shrink_the_variance()
    {
        // Pooled ranks: 1→1, the three 2s→3, the three 3s→6, 4→8; canary rank sum 23, U = 23 − 10 = 13.
        // Variance 16/12 · (9 − 48/56) = 10.857; z = (13 − 8 − 0.5)/3.295 = 1.366; P(Z ≥ z) = 0.0860.
        var result = MannWhitneyU.GreaterThan([2, 3, 3, 4], [1, 2, 2, 3]);

        Assert.Equal(13, result.U);
        Assert.Equal(0.0860, result.PValue, 3);
    }

    [Fact]
    public void All_values_tied_gives_no_evidence()
    {
        var result = MannWhitneyU.GreaterThan([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]);

        Assert.Equal(1.0, result.PValue);
        Assert.Equal(0.5, result.Superiority);
    }

    [Fact]
    public void A_canary_below_stable_is_never_significant()
    {
        var result = MannWhitneyU.GreaterThan([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);

        Assert.Equal(0, result.U);
        Assert.True(result.PValue > 0.99);
        Assert.Equal(0, result.Superiority);
    }

    [Theory]
    [InlineData(0.0, 0.5)]
    [InlineData(1.959964, 0.025)]
    [InlineData(-1.959964, 0.975)]
    [InlineData(3.090232, 0.001)]
    public void Upper_tail_of_the_normal_is_accurate(double z, double expected)
    {
        Assert.Equal(expected, MannWhitneyU.UpperTailNormal(z), 6);
    }

    [Fact]
    public void Bucket_counts_give_the_same_test_as_the_values_they_count()
    {
        // Two buckets' worth of ties: canary 2,3,3,4 against stable 1,2,2,3 as counts per value 1..4.
        var byValue = MannWhitneyU.GreaterThan([2, 3, 3, 4], [1, 2, 2, 3]);
        var byCounts = MannWhitneyU.GreaterThanOrdinal([0, 1, 2, 1], [1, 2, 1, 0]);

        Assert.Equal(byValue, byCounts);
        Assert.Equal(13 / 16.0, byCounts.Superiority);
    }

    [Fact]
    public void Empty_categories_change_nothing()
    {
        Assert.Equal(MannWhitneyU.GreaterThanOrdinal([3, 5], [4, 4]), MannWhitneyU.GreaterThanOrdinal([0, 3, 0, 0, 5, 0], [0, 4, 0, 0, 4, 0]));
    }

    private static double[] LogNormal(Random random, int count, double median, double spread) =>
        Enumerable.Range(0, count).Select(_ =>
        {
            var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return median * Math.Exp(spread * z);
        }).ToArray();

    /// <summary>Requests' latencies as GruServer's histogram would count them.</summary>
    private static LatencyHistogram Histogram(double[] latencies) => new(Observations.Bounds,
        Observations.Bounds.Select(b => (long)latencies.Count(l => l <= b)).ToArray());

    private static Verdict JudgeLatency(double[] canary, double[] stable)
    {
        var slo = new SloSpec(TimeSpan.FromSeconds(1), null, null, 50);
        var observation = new AnalysisObservation(
            new Dictionary<string, Measurement>
            {
                [MetricNames.RequestCount] = Measurement.Of(canary.Length),
                [MetricNames.LatencyP95] = Measurement.Of(Histogram(canary)),
            },
            new Dictionary<string, Measurement>
            {
                [MetricNames.RequestCount] = Measurement.Of(stable.Length),
                [MetricNames.LatencyP95] = Measurement.Of(Histogram(stable)),
            });
        return CanaryJudge.Judge(slo, CanaryAnalysisSpec.Default, ComparisonPolicy.Default, DateTimeOffset.UnixEpoch, observation).Verdict;
    }

    public static TheoryData<string, double, int, int, bool, int> Seeds => new()
    {
        // name, canary slowdown, canary requests, stable requests, whether it must fail, seeds (of 500) allowed to differ
        { "identical servers, few requests", 1.0, 60, 540, false, 2 }, // alpha 0.001 per run: 0.5 in 500 expected
        { "identical servers, many requests", 1.0, 3000, 27000, false, 0 },
        { "a pod 5% slower, many requests", 1.05, 3000, 27000, false, 0 },
        { "50% slower, few requests", 1.5, 100, 900, true, 0 },
        { "30% slower, 200 requests", 1.3, 200, 1800, true, 25 },
    };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Judges_bucketed_requests_over_many_seeds(string scenario, double slowdown, int canaryCount, int stableCount, bool fails, int allowed)
    {
        var differing = new List<(int Seed, Verdict Verdict)>();
        for (var seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            var verdict = JudgeLatency(LogNormal(random, canaryCount, 0.040 * slowdown, 0.4), LogNormal(random, stableCount, 0.040, 0.4));
            if (verdict == Verdict.Failed != fails)
            {
                differing.Add((seed, verdict));
            }
        }

        Assert.True(differing.Count <= allowed, $"{scenario}: {(fails ? "escaped" : "Failed")} in {differing.Count} of 500 seeds ({string.Join(", ", differing.Take(10))})");
    }
}
