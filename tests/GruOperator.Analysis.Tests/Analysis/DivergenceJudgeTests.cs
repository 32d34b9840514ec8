using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>The divergence check: thresholds on the 1-2-5 grid read exactly from bucket counts, arg-max agreement,
/// minimum evidence, and a check without thresholds that reports and never judges.</summary>
public sealed class DivergenceJudgeTests
{
    private const int MinRequests = 50;

    /// <summary>Counts with <paramref name="n"/> compared requests, each value placed in the bucket of its upper bound.</summary>
    private static DivergenceCounts Counts(long n, double abs, double rel, long outsideAbs = 0, double outsideAbsValue = 1, long argMax = 0, long agreed = 0, long errors = 0, long dropped = 0) =>
        new(n, Histogram(n - outsideAbs, abs, outsideAbs, outsideAbsValue), Histogram(n, rel, 0, 0), argMax, agreed, errors, dropped);

    private static DivergenceHistogram Histogram(long count, double value, long extra, double extraValue)
    {
        double[] bounds = [.. DivergenceBuckets.Bounds, double.PositiveInfinity];
        var cumulative = bounds.Select(b => (b >= value ? count : 0) + (b >= extraValue ? extra : 0)).ToArray();
        return new DivergenceHistogram(bounds, cumulative);
    }

    private static Measurement Of(DivergenceCounts counts) => Measurement.Of(counts.Compared) with { Divergence = counts };

    public static TheoryData<string, DivergenceSpec, Measurement, Verdict, string> Cases => new()
    {
        { "identical outputs pass maxAbs", new(1e-3, null, 0.99, null), Of(Counts(200, 1e-7, 1e-7)), Verdict.Passed, "within thresholds; 200 compared, max abs p50 ≤ 1E-07 p99 ≤ 1E-07" },
        { "8-bit rounding passes a 1e-2 tolerance", new(1e-2, null, 0.99, null), Of(Counts(300, 2e-3, 5e-3)), Verdict.Passed, "within thresholds" },
        { "swapped gates fail maxAbs", new(1e-2, null, 0.99, null), Of(Counts(300, 5e-2, 0.2)), Verdict.Failed, "0% within maxAbs 0.01 (at least 99% needed)" },
        { "exactly the within share passes", new(1e-2, null, 0.99, null), Of(Counts(100, 1e-3, 1e-3, outsideAbs: 1)), Verdict.Passed, "within thresholds" },
        { "just below the within share fails", new(1e-2, null, 0.99, null), Of(Counts(100, 1e-3, 1e-3, outsideAbs: 2)), Verdict.Failed, "98% within maxAbs 0.01" },
        { "a value on the bound counts as within", new(1e-2, null, 0.99, null), Of(Counts(100, 1e-2, 1e-3)), Verdict.Passed, "within thresholds" },
        { "maxRel judged alone", new(null, 0.05, 0.95, null), Of(Counts(100, 1, 0.1)), Verdict.Failed, "0% within maxRel 0.05 (at least 95% needed)" },
        { "both bounds: the failing one is named", new(1e-1, 1e-2, 0.99, null), Of(Counts(100, 1e-2, 5e-2)), Verdict.Failed, "within maxRel 0.01" },
        { "arg-max agreement below the minimum fails", new(null, null, 0.99, 0.98), Of(Counts(100, 1, 1, argMax: 100, agreed: 90)), Verdict.Failed, "arg-max agreed on 90% (at least 98% needed)" },
        { "arg-max agreement at the minimum passes", new(null, null, 0.99, 0.9), Of(Counts(100, 1, 1, argMax: 100, agreed: 90)), Verdict.Passed, "arg-max agreed 90/100" },
        { "arg-max asked for but no classification output", new(null, null, 0.99, 0.9), Of(Counts(100, 1e-3, 1e-3)), Verdict.Inconclusive, "no classification-shaped output" },
        { "too few compared waits", new(1e-2, null, 0.99, null), Of(Counts(20, 5e-2, 1)), Verdict.Inconclusive, "20 compared, fewer than minRequests 50" },
        { "nothing compared is inconclusive and says why", new(1e-2, null, 0.99, null), Of(Counts(0, 1, 1, errors: 7, dropped: 3)), Verdict.Inconclusive, "no mirrored request compared in the window (7 could not be compared, 3 dropped)" },
        { "no mirror series is inconclusive naming the cause", new(1e-2, null, 0.99, null), Measurement.NoSeries("gru_mirror_abs_diff_bucket{}"), Verdict.Inconclusive, "stable exports no gru_mirror_* series" },
        { "a failed query is inconclusive", new(1e-2, null, 0.99, null), Measurement.Failed("timeout"), Verdict.Inconclusive, "query failed: timeout" },
        { "no thresholds: a wide divergence is reported, not judged", new(null, null, 0.99, null), Of(Counts(300, 5e-2, 0.2)), Verdict.Passed, "not judged (no thresholds); 300 compared, max abs p50 ≤ 0.05 p99 ≤ 0.05, max rel p50 ≤ 0.2 p99 ≤ 0.2" },
        { "no thresholds: no data is still not judged", new(null, null, 0.99, null), Measurement.Failed("timeout"), Verdict.Passed, "not judged (no thresholds); query failed: timeout" },
        { "no thresholds: few requests are reported", new(null, null, 0.99, null), Of(Counts(3, 1e-3, 1e-3)), Verdict.Passed, "not judged (no thresholds); 3 compared" },
        { "errors and drops are reported with the counts", new(1e-2, null, 0.99, null), Of(Counts(100, 1e-3, 1e-3, errors: 2, dropped: 5)), Verdict.Passed, "2 not comparable, 5 dropped" },
        { "a divergence beyond the grid shows as infinite", new(1e-2, null, 0.5, null), Of(Counts(100, double.PositiveInfinity, 2)), Verdict.Failed, "max abs p50 ≤ ∞" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Judges(string why, DivergenceSpec spec, Measurement measurement, Verdict verdict, string reason)
    {
        var (actual, _, text) = DivergenceJudge.Judge(spec, measurement, MinRequests);

        Assert.True(verdict == actual, $"{why}: {actual}: {text}");
        Assert.Contains(reason, text, StringComparison.Ordinal);
    }

    [Fact]
    public void ValueIsTheShareWithinMaxAbsFirst()
    {
        var (_, value, _) = DivergenceJudge.Judge(new(1e-2, 1e-1, 0.9, null), Of(Counts(100, 1e-3, 1e-3, outsideAbs: 5)), MinRequests);

        Assert.Equal(0.95, value);
    }

    [Fact]
    public void QuantileBoundsAreUpperGridBounds()
    {
        var histogram = Histogram(90, 1e-4, 10, 0.5);

        Assert.Equal(1e-4, histogram.QuantileBound(0.5));
        Assert.Equal(1e-4, histogram.QuantileBound(0.9));
        Assert.Equal(0.5, histogram.QuantileBound(0.99));
        Assert.Equal(90, histogram.AtOrBelow(1e-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => histogram.AtOrBelow(3e-3));
    }

    [Fact]
    public void TheJudgePlansDivergenceFromStableAndCombinesIt()
    {
        var spec = CanaryAnalysisSpec.Default with { CompareToStable = false };
        spec = spec with { Divergence = new DivergenceSpec(1e-2, null, 0.99, null) };
        var slo = new SloSpec(null, null, null, MinRequests);

        var plan = CanaryJudge.Plan(slo, spec);
        var run = CanaryJudge.Judge(slo, spec, ComparisonPolicy.Default, DateTimeOffset.UnixEpoch, new AnalysisObservation(
            new Dictionary<string, Measurement> { [MetricNames.RequestCount] = Measurement.Of(300), [DivergenceJudge.MetricName] = Of(Counts(300, 5e-2, 0.2)) },
            new Dictionary<string, Measurement> { [MetricNames.RequestCount] = Measurement.Of(300) }));

        Assert.Contains(plan, p => p.Source is BuiltInDivergence && p.Threshold.Min == 0.99);
        Assert.Equal(Verdict.Failed, run.Verdict);
        Assert.Contains("divergence: canary outputs diverge from stable's", run.Reason, StringComparison.Ordinal);
        Assert.Equal(0, run.Metrics.Single(m => m.Name == DivergenceJudge.MetricName).Value);
    }
}
