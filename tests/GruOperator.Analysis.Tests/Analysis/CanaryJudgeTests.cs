using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class CanaryJudgeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private static readonly CanaryAnalysisSpec Spec = CanaryAnalysisSpec.Default;

    public static TheoryData<string, Func<Observations, Observations>, Verdict, string?> Scenarios => new()
    {
        { "healthy pair", o => o, Verdict.Passed, null },
        { "latency exactly at the SLO passes", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.2, Observations.Steady(0.08))), Verdict.Passed, null },
        { "latency just above the SLO fails", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.2001, Observations.Steady(0.08))), Verdict.Failed, MetricNames.LatencyP95 },
        { "error rate exactly at the SLO passes", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.01, new double[20])), Verdict.Passed, null },
        { "error rate a hair above the SLO on 500 requests is inconclusive", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.0101)), Verdict.Inconclusive, MetricNames.ErrorRate },
        { "error rate clearly above the SLO fails", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.03)), Verdict.Failed, MetricNames.ErrorRate },
        { "error rate a little above the SLO but far above stable fails", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(5000)).WithStable(MetricNames.RequestCount, Measurement.Of(5000)).WithStable(MetricNames.ErrorRate, Measurement.Of(0.002)).WithCanary(MetricNames.ErrorRate, Measurement.Of(0.012)), Verdict.Failed, MetricNames.ErrorRate },
        { "error rate a little above the SLO like stable stays inconclusive", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(5000)).WithStable(MetricNames.RequestCount, Measurement.Of(5000)).WithStable(MetricNames.ErrorRate, Measurement.Of(0.012)).WithCanary(MetricNames.ErrorRate, Measurement.Of(0.012)), Verdict.Inconclusive, MetricNames.ErrorRate },
        { "one error more than stable is noise", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.002)), Verdict.Passed, null },
        { "stable without traffic leaves the rate comparison inconclusive", o => o.WithStable(MetricNames.RequestCount, Measurement.Of(10)), Verdict.Inconclusive, MetricNames.ErrorRate },
        { "schema error rate above the SLO fails", o => o.WithCanary(MetricNames.InputSchemaErrorRate, Measurement.Of(0.2, Observations.Steady(0.001))), Verdict.Failed, MetricNames.InputSchemaErrorRate },
        { "exactly minRequests passes", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(50)), Verdict.Passed, null },
        { "one request short of minRequests is inconclusive", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(49.9)), Verdict.Inconclusive, MetricNames.RequestCount },
        { "no requests at all is inconclusive", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(null)), Verdict.Inconclusive, MetricNames.RequestCount },
        { "too few requests hides even a bad latency", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(3)).WithCanary(MetricNames.LatencyP95, Measurement.Of(5, Observations.Steady(5))), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "NaN latency is no data", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(double.NaN, Observations.Steady(0.08))), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "+Inf latency is no data, not a failure", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(double.PositiveInfinity, Observations.Steady(0.08))), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "missing error rate is no data, never zero", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(null)), Verdict.Inconclusive, MetricNames.ErrorRate },
        { "Prometheus unreachable is inconclusive", o => o.WithCanary(MetricNames.RequestCount, Measurement.Failed("connection refused")), Verdict.Inconclusive, MetricNames.RequestCount },
        { "a failed latency query is inconclusive", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Failed("bad_data")), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "a metric never measured is inconclusive", o => { o.Canary.Remove(MetricNames.ErrorRate); return o; }, Verdict.Inconclusive, MetricNames.ErrorRate },
        { "canary 30% slower than stable fails inside the SLO", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.104, Observations.Steady(0.104))), Verdict.Failed, MetricNames.LatencyP95 },
        { "canary 10% slower than stable is within tolerance", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.088, Observations.Steady(0.088))), Verdict.Passed, null },
        { "canary faster than stable passes", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.05, Observations.Steady(0.05))), Verdict.Passed, null },
        { "too few canary samples to compare is inconclusive", o => o.WithCanary(MetricNames.LatencyP95, Measurement.Of(0.08, Observations.Steady(0.08)[..7])), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "too few stable samples to compare is inconclusive", o => o.WithStable(MetricNames.LatencyP95, Measurement.Of(0.08, Observations.Steady(0.08)[..3])), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "stable unreachable leaves the comparison inconclusive", o => o.WithStable(MetricNames.LatencyP95, Measurement.Failed("timeout")), Verdict.Inconclusive, MetricNames.LatencyP95 },
        { "absolute failure wins over a stable outage", o => o.WithStable(MetricNames.LatencyP95, Measurement.Failed("timeout")).WithCanary(MetricNames.LatencyP95, Measurement.Of(0.5, Observations.Steady(0.5))), Verdict.Failed, MetricNames.LatencyP95 },
        { "errors appearing on canary only fail against stable", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of(5000)).WithStable(MetricNames.RequestCount, Measurement.Of(5000)).WithCanary(MetricNames.ErrorRate, Measurement.Of(0.009)), Verdict.Failed, MetricNames.ErrorRate },
        { "four errors against none in 500 requests is noise", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.008)), Verdict.Passed, null },
        { "failure wins over inconclusive", o => o.WithCanary(MetricNames.ErrorRate, Measurement.Of(0.5, Observations.Steady(0.5))).WithCanary(MetricNames.LatencyP95, Measurement.Failed("timeout")), Verdict.Failed, MetricNames.ErrorRate },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Judges_each_scenario(string scenario, Func<Observations, Observations> change, Verdict expected, string? blamed)
    {
        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, change(Observations.Healthy()).ToObservation());

        Assert.True(expected == run.Verdict, $"{scenario}: expected {expected}, got {run.Verdict}: {run.Reason}");
        if (blamed is not null)
        {
            var metric = Assert.Single(run.Metrics, m => m.Name == blamed);
            Assert.Equal(expected, metric.Verdict);
            Assert.Contains(blamed, run.Reason, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(metric.Reason));
            Assert.DoesNotContain('\n', metric.Reason);
        }
        else
        {
            Assert.All(run.Metrics, m => Assert.Equal(Verdict.Passed, m.Verdict));
        }
    }

    [Fact]
    public void Without_compare_to_stable_a_slower_canary_inside_the_SLO_passes()
    {
        var observation = Observations.Healthy()
            .WithCanary(MetricNames.LatencyP95, Measurement.Of(0.150, Observations.Steady(0.150))).ToObservation();

        var run = CanaryJudge.Judge(Observations.Slo, Spec with { CompareToStable = false }, ComparisonPolicy.Default, Now, observation);

        Assert.Equal(Verdict.Passed, run.Verdict);
        Assert.Null(run.Metrics.Single(m => m.Name == MetricNames.LatencyP95).PValue);
    }

    [Fact]
    public void The_record_explains_every_metric_the_way_status_shows_it()
    {
        var observation = Observations.Healthy()
            .WithCanary(MetricNames.LatencyP95, Measurement.Of(0.35, Observations.Steady(0.35))).ToObservation();

        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, observation);

        Assert.Equal(Now, run.Time);
        Assert.Equal(
            [MetricNames.RequestCount, MetricNames.LatencyP95, MetricNames.ErrorRate, MetricNames.InputSchemaErrorRate],
            run.Metrics.Select(m => m.Name));
        var latency = run.Metrics[1];
        Assert.Equal("0.35", AnalysisStatusFormat.Number(latency.Value));
        Assert.Equal("0.2", AnalysisStatusFormat.Threshold(latency.Threshold));
        Assert.Equal("0.08", AnalysisStatusFormat.Number(latency.StableValue));
        Assert.Equal("0.35 is above the SLO 0.2", latency.Reason);
        Assert.Equal(">=50", AnalysisStatusFormat.Threshold(run.Metrics[0].Threshold));
        Assert.Equal("Failed: latencyP95 (latencyP95: 0.35 is above the SLO 0.2)", run.Reason);
        var errors = run.Metrics[2];
        Assert.NotNull(errors.PValue); // compared with stable, so the p-value is shown
    }

    [Fact]
    public void An_SLO_without_bounds_still_requires_traffic()
    {
        var slo = new SloSpec(null, null, null, 50);
        var idle = Observations.Healthy().WithCanary(MetricNames.RequestCount, Measurement.Of(0)).ToObservation();

        var run = CanaryJudge.Judge(slo, Spec, ComparisonPolicy.Default, Now, idle);

        Assert.Equal(Verdict.Inconclusive, run.Verdict);
        Assert.Equal([MetricNames.RequestCount], run.Metrics.Select(m => m.Name));
    }

    public static TheoryData<string, double?, Verdict> CustomValues => new()
    {
        { "inside the range", 0.5, Verdict.Passed },
        { "on the lower edge", 0.1, Verdict.Passed },
        { "on the upper edge", 0.9, Verdict.Passed },
        { "below the range", 0.0999, Verdict.Failed },
        { "above the range", 0.9001, Verdict.Failed },
        { "no data", null, Verdict.Inconclusive },
        { "NaN", double.NaN, Verdict.Inconclusive },
        { "-Inf", double.NegativeInfinity, Verdict.Inconclusive },
    };

    [Theory]
    [MemberData(nameof(CustomValues))]
    public void Custom_metrics_are_held_to_their_threshold_range(string scenario, double? value, Verdict expected)
    {
        var spec = Spec with { Metrics = [new CustomMetricSpec("mean-score", "avg(x)", new ThresholdRange(0.1, 0.9))] };
        var observation = Observations.Healthy().WithCanary("mean-score", Measurement.Of(value)).WithStable("mean-score", Measurement.Of(0.5));

        var run = CanaryJudge.Judge(Observations.Slo, spec, ComparisonPolicy.Default, Now, observation.ToObservation());

        var metric = run.Metrics.Single(m => m.Name == "mean-score");
        Assert.True(expected == metric.Verdict, $"{scenario}: {metric.Reason}");
        Assert.Equal(expected, run.Verdict);
        Assert.Equal("0.1..0.9", AnalysisStatusFormat.Threshold(metric.Threshold));
        Assert.Equal(0.5, metric.StableValue);
    }

    [Fact]
    public void A_custom_metric_is_judged_even_when_traffic_is_low()
    {
        var spec = Spec with { Metrics = [new CustomMetricSpec("drift", "x", new ThresholdRange(null, 1))] };
        var observation = Observations.Healthy().WithCanary(MetricNames.RequestCount, Measurement.Of(1)).WithCanary("drift", Measurement.Of(3));

        var run = CanaryJudge.Judge(Observations.Slo, spec, ComparisonPolicy.Default, Now, observation.ToObservation());

        Assert.Equal(Verdict.Failed, run.Verdict);
        Assert.StartsWith("Failed: drift", run.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Warnings_from_all_measurements_are_kept_once()
    {
        var observation = Observations.Healthy()
            .WithCanary(MetricNames.RequestCount, Measurement.Of(500, warnings: ["PromQL info: metric might not be a counter"]))
            .WithStable(MetricNames.RequestCount, Measurement.Of(500, warnings: ["PromQL info: metric might not be a counter"]));

        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, observation.ToObservation());

        Assert.Equal(["PromQL info: metric might not be a counter"], run.Warnings);
    }
}
