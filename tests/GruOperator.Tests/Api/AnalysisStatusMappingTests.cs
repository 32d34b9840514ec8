using GruOperator.Api;
using GruOperator.Domain.Analysis;
using k8s;
using DomainMetric = GruOperator.Domain.Analysis.MetricResult;
using MetricResult = GruOperator.Api.MetricResult;
using ThresholdRange = GruOperator.Domain.Analysis.ThresholdRange;

namespace GruOperator.Tests.Api;

public sealed class AnalysisStatusMappingTests
{
    /// <summary>Each row: a metric's judgement and the entry it must show under <c>lastRun.metrics[]</c>; absent fields stay null.</summary>
    public static TheoryData<string, DomainMetric, MetricResult> MetricRows => new()
    {
        {
            "failed against stable, p below four decimals",
            new("latencyP95", Verdict.Failed, 0.2425, new ThresholdRange(null, 0.1), 0.000286, 0.00003, "0.2425 is above the SLO 0.1"),
            new() { Name = "latencyP95", Value = "0.2425", Threshold = "0.1", StableValue = "0.000286", PValue = "<0.0001", Verdict = AnalysisVerdict.Failed, Reason = "0.2425 is above the SLO 0.1" }
        },
        {
            "passed, compared with stable, p rounded to four decimals",
            new("latencyP99", Verdict.Passed, 0.08123456, new ThresholdRange(null, 0.2), 0.079, 0.41236, "0.081235 is within the SLO 0.2 and not worse than stable"),
            new() { Name = "latencyP99", Value = "0.081235", Threshold = "0.2", StableValue = "0.079", PValue = "0.4124", Verdict = AnalysisVerdict.Passed, Reason = "0.081235 is within the SLO 0.2 and not worse than stable" }
        },
        {
            "custom metric with a range, no stable comparison",
            new("outputMean", Verdict.Passed, 0.5, new ThresholdRange(0.1, 0.9), null, null, "0.5 is within 0.1..0.9"),
            new() { Name = "outputMean", Value = "0.5", Threshold = "0.1..0.9", Verdict = AnalysisVerdict.Passed, Reason = "0.5 is within 0.1..0.9" }
        },
        {
            "lower bound only",
            new("throughput", Verdict.Failed, 12, new ThresholdRange(50, null), 61, null, "12 is below the minimum 50"),
            new() { Name = "throughput", Value = "12", Threshold = ">=50", StableValue = "61", Verdict = AnalysisVerdict.Failed, Reason = "12 is below the minimum 50" }
        },
        {
            "no data: no value, never zero",
            new("errorRate", Verdict.Inconclusive, null, new ThresholdRange(null, 0.01), 0.002, null, "no data for the canary (empty result, NaN or Inf)"),
            new() { Name = "errorRate", Threshold = "0.01", StableValue = "0.002", Verdict = AnalysisVerdict.Inconclusive, Reason = "no data for the canary (empty result, NaN or Inf)" }
        },
        {
            "no threshold",
            new("custom", Verdict.Inconclusive, 3, null, null, null, "canary query failed: timeout"),
            new() { Name = "custom", Value = "3", Verdict = AnalysisVerdict.Inconclusive, Reason = "canary query failed: timeout" }
        },
    };

    [Theory]
    [MemberData(nameof(MetricRows))]
    public void MetricMapsToItsStatusEntry(string scenario, DomainMetric metric, MetricResult expected)
    {
        var actual = Fields(AnalysisStatusMapping.ToStatus(metric));
        Assert.True(Fields(expected) == actual, $"{scenario}: expected {Fields(expected)}, got {actual}");
    }

    private static (string, string?, string?, string?, string?, AnalysisVerdict?, string?) Fields(MetricResult m) =>
        (m.Name, m.Value, m.Threshold, m.StableValue, m.PValue, m.Verdict, m.Reason);

    [Theory]
    [InlineData(Verdict.Passed, AnalysisVerdict.Passed)]
    [InlineData(Verdict.Failed, AnalysisVerdict.Failed)]
    [InlineData(Verdict.Inconclusive, AnalysisVerdict.Inconclusive)]
    public void VerdictMapsToTheSameNamedApiValue(Verdict verdict, AnalysisVerdict expected) =>
        Assert.Equal(expected, AnalysisStatusMapping.ToStatus(verdict));

    [Fact]
    public void EveryDomainVerdictHasAnApiValue() =>
        Assert.Equal(Enum.GetNames<Verdict>(), Enum.GetValues<Verdict>().Select(v => AnalysisStatusMapping.ToStatus(v).ToString()));

    [Fact]
    public void RunKeepsTimeVerdictReasonAndMetricOrderButNotBackendWarnings()
    {
        var time = new DateTimeOffset(2026, 11, 25, 10, 30, 0, TimeSpan.Zero);
        var run = new AnalysisRun(time, Verdict.Failed, "Failed: latencyP95 (latencyP95: 0.2425 is above the SLO 0.1)",
        [
            new("latencyP95", Verdict.Failed, 0.2425, new ThresholdRange(null, 0.1), null, null, "0.2425 is above the SLO 0.1"),
            new("errorRate", Verdict.Inconclusive, null, new ThresholdRange(null, 0.01), null, null, "no data"),
        ],
        ["query returned 2 series"]);

        var status = AnalysisStatusMapping.ToStatus(new AnalysisCounters(4, 1, 0), run);

        Assert.Equal((4, 1, 0), (status.Runs, status.ConsecutiveFailures, status.ConsecutiveInconclusive));
        var lastRun = status.LastRun!;
        Assert.Equal(time, lastRun.Time);
        Assert.Equal(AnalysisVerdict.Failed, lastRun.Verdict);
        Assert.Equal("Failed: latencyP95 (latencyP95: 0.2425 is above the SLO 0.1)", lastRun.Reason);
        Assert.Equal(["latencyP95", "errorRate"], lastRun.Metrics!.Select(m => m.Name));
        Assert.DoesNotContain("2 series", KubernetesJson.Serialize(status), StringComparison.Ordinal);
    }

    [Fact]
    public void BeforeTheFirstRunThereIsNoLastRun()
    {
        var status = AnalysisStatusMapping.ToStatus(AnalysisCounters.Initial, null);
        Assert.Equal((0, 0, 0), (status.Runs, status.ConsecutiveFailures, status.ConsecutiveInconclusive));
        Assert.Null(status.LastRun);
    }
}
