using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class ProportionTestsTests
{
    [Theory]
    [InlineData(10, 0, 0.1, 1.0)]
    [InlineData(1, 1, 0.5, 0.5)]
    [InlineData(2, 2, 0.5, 0.25)]
    [InlineData(10, 3, 0.1, 0.0701908)] // 1 − (0.9^10 + 10·0.1·0.9^9 + 45·0.01·0.9^8)
    [InlineData(10, 11, 0.1, 0.0)]
    [InlineData(100, 1, 0.0, 0.0)]
    [InlineData(1_000_000, 10_000, 0.01, 0.5013)] // Edgeworth: Φ(0.5/σ) + φ(0)·γ/6 with σ = 99.5, skew γ = 0.98/σ
    public void Binomial_upper_tail_is_exact(long n, long k, double p, double expected)
    {
        Assert.Equal(expected, ProportionTests.BinomialUpperTail(n, k, p), 4);
    }

    [Theory]
    [InlineData(4, 4, 0, 4, 0.0142857)] // the lady tasting tea: 1 / C(8,4)
    [InlineData(3, 4, 1, 4, 0.2428571)] // (C(4,3)·C(4,1) + 1) / 70
    [InlineData(3, 200, 0, 200, 0.1240606)] // 200·199·198 / (400·399·398): a z-test would say 0.04
    [InlineData(1, 500, 0, 500, 0.5)]
    [InlineData(0, 500, 0, 500, 1.0)]
    [InlineData(0, 500, 9, 500, 1.0)]
    public void Fisher_exact_test_matches_hand_computed_values(long canaryEvents, long canaryTotal, long stableEvents, long stableTotal, double expected)
    {
        Assert.Equal(expected, ProportionTests.FisherGreater(canaryEvents, canaryTotal, stableEvents, stableTotal), 5);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(0.5, 0.5723649)] // log √π
    [InlineData(11, 15.1044126)] // log 10!
    [InlineData(1_000_001, 12815518.3846582)] // log 1e6!, Stirling
    public void Log_gamma_is_accurate(double x, double expected)
    {
        Assert.Equal(expected, ProportionTests.LogGamma(x), 6);
    }

    private static long Binomial(Random random, int n, double p) => Enumerable.Range(0, n).Count(_ => random.NextDouble() < p);

    private static Verdict JudgeErrors(Random random, int requests, double canaryRate, double stableRate)
    {
        var slo = new SloSpec(null, 0.01, null, 50);
        var canary = new EventCount(Binomial(random, requests, canaryRate), requests);
        var stable = new EventCount(Binomial(random, requests, stableRate), requests);
        var observation = new AnalysisObservation(
            new Dictionary<string, Measurement> { [MetricNames.RequestCount] = Measurement.Of(requests), [MetricNames.ErrorRate] = Measurement.Of(canary) },
            new Dictionary<string, Measurement> { [MetricNames.RequestCount] = Measurement.Of(requests), [MetricNames.ErrorRate] = Measurement.Of(stable) });
        return CanaryJudge.Judge(slo, CanaryAnalysisSpec.Default, ComparisonPolicy.Default, DateTimeOffset.UnixEpoch, observation).Verdict;
    }

    [Theory]
    [InlineData(200, 0.002)]
    [InlineData(2000, 0.002)]
    [InlineData(2000, 0.005)] // half the SLO on both sides
    public void Equal_error_rates_never_fail_over_many_seeds(int requests, double rate)
    {
        var failed = Enumerable.Range(0, 500).Where(seed => JudgeErrors(new Random(seed), requests, rate, rate) == Verdict.Failed).ToArray();

        Assert.True(failed.Length == 0, $"equal {rate:P1} error rates Failed for seeds {string.Join(", ", failed)}");
    }

    [Theory]
    [InlineData(200, 0.08)]
    [InlineData(2000, 0.02)]
    [InlineData(10_000, 0.008)] // inside the 1% SLO, but four times stable's rate
    public void A_canary_with_clearly_more_errors_fails_over_many_seeds(int requests, double canaryRate)
    {
        var notFailed = Enumerable.Range(0, 500).Count(seed => JudgeErrors(new Random(seed), requests, canaryRate, 0.002) != Verdict.Failed);

        Assert.True(notFailed <= 10, $"{canaryRate:P1} errors over {requests} requests escaped in {notFailed} of 500 seeds");
    }
}
