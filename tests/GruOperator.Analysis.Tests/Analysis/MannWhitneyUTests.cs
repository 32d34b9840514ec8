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
        Assert.Equal(5, result.Shift);
        Assert.Equal(3, result.StableMedian);
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
        Assert.Equal(0, result.Shift);
    }

    [Fact]
    public void A_canary_below_stable_is_never_significant()
    {
        var result = MannWhitneyU.GreaterThan([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);

        Assert.Equal(0, result.U);
        Assert.True(result.PValue > 0.99);
        Assert.Equal(-5, result.Shift);
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

    private static double[] LogNormal(Random random, int count, double median, double spread) =>
        Enumerable.Range(0, count).Select(_ =>
        {
            var z = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return median * Math.Exp(spread * z);
        }).ToArray();

    private static Verdict JudgeLatency(double[] canary, double[] stable)
    {
        var slo = new SloSpec(TimeSpan.FromSeconds(1), null, null, 1);
        var observation = new AnalysisObservation(
            new Dictionary<string, Measurement>
            {
                [MetricNames.RequestCount] = Measurement.Of(1000),
                [MetricNames.LatencyP95] = Measurement.Of(canary.Length > 0 ? MannWhitneyU.Median(canary) : null, canary),
            },
            new Dictionary<string, Measurement>
            {
                [MetricNames.RequestCount] = Measurement.Of(1000),
                [MetricNames.LatencyP95] = Measurement.Of(stable.Length > 0 ? MannWhitneyU.Median(stable) : null, stable),
            });
        return CanaryJudge.Judge(slo, CanaryAnalysisSpec.Default, ComparisonPolicy.Default, DateTimeOffset.UnixEpoch, observation).Verdict;
    }

    [Fact]
    public void Equal_but_noisy_series_pass_over_many_seeds()
    {
        var failed = new List<int>();
        for (var seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            // Per-step p95 values of two identical servers: same median, 15% noise each step.
            var verdict = JudgeLatency(LogNormal(random, 20, 0.080, 0.15), LogNormal(random, 20, 0.080, 0.15));
            if (verdict != Verdict.Passed)
            {
                failed.Add(seed);
            }
        }

        Assert.True(failed.Count == 0, $"identical noisy servers judged not Passed for seeds {string.Join(", ", failed)}");
    }

    [Fact]
    public void A_clearly_worse_canary_fails_over_many_seeds()
    {
        var passed = new List<int>();
        for (var seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            var verdict = JudgeLatency(LogNormal(random, 20, 0.080 * 1.5, 0.15), LogNormal(random, 20, 0.080, 0.15));
            if (verdict != Verdict.Failed)
            {
                passed.Add(seed);
            }
        }

        Assert.True(passed.Count == 0, $"a canary 50% slower was not Failed for seeds {string.Join(", ", passed)}");
    }

    [Fact]
    public void A_canary_30_percent_slower_fails_in_nearly_every_seed()
    {
        var notFailed = 0;
        for (var seed = 0; seed < 500; seed++)
        {
            var random = new Random(seed);
            if (JudgeLatency(LogNormal(random, 20, 0.080 * 1.3, 0.10), LogNormal(random, 20, 0.080, 0.10)) != Verdict.Failed)
            {
                notFailed++;
            }
        }

        Assert.True(notFailed <= 25, $"a canary 30% slower escaped in {notFailed} of 500 seeds");
    }

    [Theory]
    [InlineData(1, 20)]
    [InlineData(7, 20)]
    [InlineData(20, 7)]
    [InlineData(0, 0)]
    public void Tiny_samples_are_inconclusive_even_when_far_apart(int canaryCount, int stableCount)
    {
        var random = new Random(7);
        var verdict = JudgeLatency(LogNormal(random, canaryCount, 0.5, 0.1), LogNormal(random, stableCount, 0.05, 0.1));

        Assert.Equal(Verdict.Inconclusive, verdict);
    }
}
