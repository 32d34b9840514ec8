using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class CanaryJudgeTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private static readonly CanaryAnalysisSpec Spec = CanaryAnalysisSpec.Default;
    private const string Latency = MetricNames.LatencyP95;
    private const string Errors = MetricNames.ErrorRate;

    private static Measurement Slow(long requests, long slow, double median = 0.040) => Measurement.Of(Observations.Latency(requests, median, slow: slow));

    public static TheoryData<string, Func<Observations, Observations>, Verdict, string?, string?> Scenarios => new()
    {
        { "healthy pair", o => o, Verdict.Passed, null, null },
        // Latency as a proportion: the SLO allows 5% of requests slower than 200 ms, tested exactly on counts.
        { "4% slower than the SLO passes", o => o.WithCanary(Latency, Slow(500, 20)), Verdict.Passed, null, null },
        // (Stable with the same tail in these rows: a tail only the canary has is the comparison's business, below.)
        { "6% slower than the SLO on 500 requests is noise (p 0.19)", o => o.WithCanary(Latency, Slow(500, 30)).WithStable(Latency, Slow(500, 30)), Verdict.Passed, null, null },
        { "7% slower than the SLO on 500 requests is doubtful (p 0.03)", o => o.WithCanary(Latency, Slow(500, 35)).WithStable(Latency, Slow(500, 35)), Verdict.Inconclusive, Latency, "not significantly" },
        { "10% slower than the SLO fails", o => o.WithCanary(Latency, Slow(500, 50)), Verdict.Failed, Latency, "50 of 500 requests slower than 0.2 s" },
        { "an SLO threshold that is not a bucket bound cannot pass a doubtful share", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.040, slow: 40, slowAbove: 0.2, bounds: [.. LatencyBuckets.Standard.Where(b => b != 0.2), double.PositiveInfinity]))).WithStable(Latency, Measurement.Of(Observations.Latency(500, 0.040, slow: 40, slowAbove: 0.2, bounds: [.. LatencyBuckets.Standard.Where(b => b != 0.2), double.PositiveInfinity]))), Verdict.Inconclusive, Latency, "not a bucket bound" },
        { "no latency histogram is no data", o => o.WithCanary(Latency, Measurement.Of((double?)null)), Verdict.Inconclusive, Latency, "no latency histogram" },
        { "a failed latency query is inconclusive", o => o.WithCanary(Latency, Measurement.Failed("bad_data")), Verdict.Inconclusive, Latency, "bad_data" },
        // Comparison with stable on bucket counts, tolerance 20% of the median and at least half a bucket.
        { "canary 30% slower than stable fails inside the SLO", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.052))), Verdict.Failed, Latency, "although within the SLO" },
        { "canary 10% slower than stable is within tolerance", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.044))), Verdict.Passed, null, null },
        { "canary 7% slower on 5000 requests each is within tolerance", o => o.WithRequests(5000, 5000).WithCanary(Latency, Measurement.Of(Observations.Latency(5000, 0.0428))), Verdict.Passed, null, null },
        { "canary faster than stable passes", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.025))), Verdict.Passed, null, null },
        { "stable unreachable leaves the comparison inconclusive", o => o.WithStable(Latency, Measurement.Failed("timeout")), Verdict.Inconclusive, Latency, "stable query failed: timeout" },
        { "absolute failure wins over a stable outage", o => o.WithStable(Latency, Measurement.Failed("timeout")).WithCanary(Latency, Slow(500, 100)), Verdict.Failed, Latency, null },
        // Shared incidents: stable breaching the same SLO in the same window is not the canary's fault.
        { "a slow dependency hitting both tracks is a shared incident", o => o.WithCanary(Latency, Slow(500, 80)).WithStable(Latency, Slow(500, 75)), Verdict.Inconclusive, Latency, "shared incident" },
        { "a canary far worse than a breaching stable still fails", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.16))).WithStable(Latency, Slow(500, 75)), Verdict.Failed, Latency, null },
        { "errors on both tracks are a shared incident", o => o.WithCanary(Errors, Observations.Errors(30, 500)).WithStable(Errors, Observations.Errors(28, 500)), Verdict.Inconclusive, Errors, "shared incident" },
        { "errors on the canary only are its own", o => o.WithCanary(Errors, Observations.Errors(30, 500)), Verdict.Failed, Errors, "30 of 500 requests answered 5xx (6%)" },
        // Error rates: exact counts, binomial test against the SLO and Fisher test against stable.
        { "error rate exactly at the SLO passes", o => o.WithCanary(Errors, Observations.Errors(5, 500)), Verdict.Passed, null, null },
        { "error rate a hair above the SLO on 500 requests is noise", o => o.WithCanary(Errors, Observations.Errors(6, 500)), Verdict.Passed, null, null },
        { "error rate above the SLO but not significantly is doubtful", o => o.WithCanary(Errors, Observations.Errors(9, 500)), Verdict.Inconclusive, Errors, "needs more traffic" },
        { "error rate clearly above the SLO fails", o => o.WithCanary(Errors, Observations.Errors(15, 500)), Verdict.Failed, Errors, null },
        { "error rate a little above the SLO but far above stable fails", o => o.WithRequests(5000, 5000).WithStable(Errors, Observations.Errors(10, 5000)).WithCanary(Errors, Observations.Errors(60, 5000)), Verdict.Failed, Errors, null },
        { "one error more than stable is noise", o => o.WithCanary(Errors, Observations.Errors(1, 500)), Verdict.Passed, null, null },
        { "four errors against none in 500 requests is noise", o => o.WithCanary(Errors, Observations.Errors(4, 500)), Verdict.Passed, null, null },
        { "errors appearing on canary only fail against stable", o => o.WithRequests(5000, 5000).WithCanary(Errors, Observations.Errors(45, 5000)), Verdict.Failed, Errors, null },
        { "missing error counts are no data, never zero", o => o.WithCanary(Errors, Measurement.Of((double?)null)), Verdict.Inconclusive, Errors, null },
        { "schema error rate above the SLO fails", o => o.WithCanary(MetricNames.InputSchemaErrorRate, Observations.Errors(100, 500)), Verdict.Failed, MetricNames.InputSchemaErrorRate, "rejected as invalid input" },
        // The tail (issue 22): the SLO is about the p95, so the comparison looks beyond the pooled p95 too, not only at the median.
        { "a heavier tail with the median unchanged fails on the tail (p95 30% worse)", o => o.WithRequests(5000, 5000).WithCanary(Latency, Measurement.Of(Observations.Latency(5000, 0.040, tailShare: 0.1, tailFactor: 2.3))), Verdict.Failed, Latency, "tail: share slower than" },
        { "a slightly heavier tail is within the tail tolerance", o => o.WithRequests(5000, 5000).WithCanary(Latency, Measurement.Of(Observations.Latency(5000, 0.040, tailShare: 0.02, tailFactor: 1.5))), Verdict.Passed, null, null },
        { "a fast model 30% slower fails: the median tolerance is relative with a 1 ms floor, no longer 2 ms", o => o.WithRequests(2000, 2000).WithCanary(Latency, Measurement.Of(Observations.Latency(2000, 0.0065))).WithStable(Latency, Measurement.Of(Observations.Latency(2000, 0.005))), Verdict.Failed, Latency, "worse than stable" },
        { "a fast model 7% slower is within tolerance", o => o.WithRequests(2000, 2000).WithCanary(Latency, Measurement.Of(Observations.Latency(2000, 0.00535))).WithStable(Latency, Measurement.Of(Observations.Latency(2000, 0.005))), Verdict.Passed, null, null },
        { "a sub-millisecond model's cold canary pod (p95 1.2 ms against 2.3 ms) is within the absolute floors (1 ms median, 2 ms p95)", o => o.WithRequests(2000, 2000).WithCanary(Latency, Measurement.Of(Observations.Latency(2000, 0.0012))).WithStable(Latency, Measurement.Of(Observations.Latency(2000, 0.0006))), Verdict.Passed, null, null },
        { "a 3 ms model 3x slower still fails (p95 about 5.8 ms against 17 ms)", o => o.WithRequests(2000, 2000).WithCanary(Latency, Measurement.Of(Observations.Latency(2000, 0.009))).WithStable(Latency, Measurement.Of(Observations.Latency(2000, 0.003))), Verdict.Failed, Latency, "worse than stable" },
        // Missing stable data (issue 22) is not an idle stable.
        { "stable's latency series missing while it serves is inconclusive naming the query", o => o.WithStable(Latency, Measurement.NoSeries("gru_request_duration_seconds_bucket{track=\"stable\"}[2m30s]")), Verdict.Inconclusive, Latency, "no data for stable: gru_request_duration_seconds_bucket{track=\"stable\"}[2m30s] matched no series" },
        { "stable's error series missing while it serves is inconclusive", o => o.WithStable(Errors, Measurement.NoSeries("gru_requests_total{track=\"stable\"}[2m30s]")), Verdict.Inconclusive, Errors, "matched no series" },
        { "stable missing while the canary takes all traffic is an idle stable", o => (o with { StableServes = false }).WithStable(MetricNames.RequestCount, Measurement.NoSeries("q")).WithStable(Latency, Measurement.NoSeries("q")).WithStable(Errors, Measurement.NoSeries("q")).WithStable(MetricNames.InputSchemaErrorRate, Measurement.NoSeries("q")), Verdict.Passed, null, null },
        { "stable present but idle (zero requests) judges on the SLO alone", o => o.WithRequests(500, 0), Verdict.Passed, null, null },
        // Traffic.
        { "exactly minRequests passes", o => o.WithRequests(50, 450), Verdict.Passed, null, null },
        { "one request short of minRequests waits", o => o.WithRequests(49, 450), Verdict.Inconclusive, MetricNames.RequestCount, "fewer than minRequests 50" },
        { "no requests at all waits", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of((double?)null)), Verdict.Inconclusive, MetricNames.RequestCount, null },
        { "too few requests hides even a bad latency", o => o.WithRequests(3, 450).WithCanary(Latency, Measurement.Of(Observations.Latency(3, 0.5))), Verdict.Inconclusive, MetricNames.RequestCount, "3 requests in the window, fewer than minRequests 50" },
        { "an idle stable (the canary at 100%) leaves the SLO alone to decide", o => o.WithRequests(500, 0), Verdict.Passed, null, null },
        { "Prometheus unreachable is inconclusive", o => o.WithCanary(MetricNames.RequestCount, Measurement.Failed("connection refused")), Verdict.Inconclusive, MetricNames.RequestCount, "connection refused" },
        { "a metric never measured is inconclusive", o => { o.Canary.Remove(Errors); return o; }, Verdict.Inconclusive, Errors, null },
        { "failure wins over inconclusive", o => o.WithCanary(Errors, Observations.Errors(250, 500)).WithCanary(Latency, Measurement.Failed("timeout")), Verdict.Failed, Errors, null },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Judges_each_scenario(string scenario, Func<Observations, Observations> change, Verdict expected, string? blamed, string? explained)
    {
        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, change(Observations.Healthy()).ToObservation());

        Assert.True(expected == run.Verdict, $"{scenario}: expected {expected}, got {run.Verdict}: {run.Reason}");
        if (blamed is not null)
        {
            var metric = Assert.Single(run.Metrics, m => m.Name == blamed);
            Assert.True(expected == metric.Verdict, $"{scenario}: {metric.Name} {metric.Verdict}: {metric.Reason}");
            Assert.Contains(blamed, run.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', metric.Reason);
            if (explained is not null)
            {
                Assert.Contains(explained, metric.Reason, StringComparison.Ordinal);
            }
        }
        else
        {
            Assert.All(run.Metrics, m => Assert.True(m.Verdict == Verdict.Passed, $"{scenario}: {m.Name}: {m.Reason}"));
        }
    }

    /// <summary>compareToStable: false still looks at stable to recognise a shared incident, but never fails a canary within its SLO for being worse.</summary>
    public static TheoryData<string, Func<Observations, Observations>, Verdict, string?, string> WithoutComparison => new()
    {
        { "a slow dependency hitting both tracks is a shared incident", o => o.WithCanary(Latency, Slow(500, 80)).WithStable(Latency, Slow(500, 75)), Verdict.Inconclusive, Latency, "shared incident" },
        { "errors on both tracks are a shared incident", o => o.WithCanary(Errors, Observations.Errors(30, 500)).WithStable(Errors, Observations.Errors(28, 500)), Verdict.Inconclusive, Errors, "shared incident" },
        { "the canary's own breach fails", o => o.WithCanary(Errors, Observations.Errors(30, 500)), Verdict.Failed, Errors, "above the SLO" },
        { "a canary far worse than a breaching stable still fails", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.16))).WithStable(Latency, Slow(500, 75)), Verdict.Failed, Latency, "above the SLO" },
        { "30% slower than stable inside the SLO passes", o => o.WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.052))), Verdict.Passed, Latency, "not compared with stable" },
        { "a stable outage does not hold a canary within its SLO", o => o.WithStable(Latency, Measurement.Failed("timeout")), Verdict.Passed, Latency, "not compared with stable" },
        { "stable without series while it serves still holds the canary", o => o.WithStable(Latency, Measurement.NoSeries("gru_request_duration_seconds_bucket{track=\"stable\"}[2m30s]")), Verdict.Inconclusive, Latency, "matched no series" },
    };

    [Theory]
    [MemberData(nameof(WithoutComparison))]
    public void Without_compare_to_stable_shared_incidents_are_still_recognised(
        string scenario, Func<Observations, Observations> change, Verdict expected, string? blamed, string explained)
    {
        var spec = Spec with { CompareToStable = false };
        var run = CanaryJudge.Judge(Observations.Slo, spec, ComparisonPolicy.Default, Now, change(Observations.Healthy()).ToObservation());

        Assert.True(expected == run.Verdict, $"{scenario}: expected {expected}, got {run.Verdict}: {run.Reason}");
        var metric = Assert.Single(run.Metrics, m => m.Name == blamed);
        Assert.True(expected == metric.Verdict, $"{scenario}: {metric.Name} {metric.Verdict}: {metric.Reason}");
        Assert.Contains(explained, metric.Reason, StringComparison.Ordinal);
        Assert.Equal(explained == "shared incident", run.SharedIncident);
    }

    public static TheoryData<string, Func<Observations, Observations>, bool> Waiting => new()
    {
        { "enough requests", o => o, false },
        { "fewer than minRequests", o => o.WithRequests(20, 400), true },
        { "no canary requests at all", o => o.WithCanary(MetricNames.RequestCount, Measurement.Of((double?)null)), true },
        { "Prometheus down is not waiting", o => o.WithCanary(MetricNames.RequestCount, Measurement.Failed("connection refused")), false },
        { "a failed check is never waiting", o => o.WithCanary(Errors, Observations.Errors(250, 500)), false },
    };

    [Theory]
    [MemberData(nameof(Waiting))]
    public void A_run_without_enough_canary_traffic_waits_for_data(string scenario, Func<Observations, Observations> change, bool waiting)
    {
        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, change(Observations.Healthy()).ToObservation());

        Assert.True(waiting == run.WaitingForData, $"{scenario}: {run.Reason}");
        if (waiting)
        {
            Assert.Equal(Verdict.Inconclusive, run.Verdict);
            Assert.StartsWith("Waiting for data: requestCount:", run.Reason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(80, 75, true)] // both tracks breach, the canary no worse
    [InlineData(80, 0, false)] // the canary's own breach: Failed, not shared
    public void A_shared_incident_is_flagged_for_its_own_event(int canarySlow, int stableSlow, bool shared)
    {
        var observation = Observations.Healthy().WithCanary(Latency, Slow(500, canarySlow)).WithStable(Latency, Slow(500, stableSlow)).ToObservation();

        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, observation);

        Assert.Equal(shared, run.SharedIncident);
        Assert.Equal(shared ? Verdict.Inconclusive : Verdict.Failed, run.Verdict);
    }

    [Fact]
    public void Without_compare_to_stable_a_slower_canary_inside_the_SLO_passes()
    {
        var observation = Observations.Healthy().WithCanary(Latency, Measurement.Of(Observations.Latency(500, 0.070))).ToObservation();

        var run = CanaryJudge.Judge(Observations.Slo, Spec with { CompareToStable = false }, ComparisonPolicy.Default, Now, observation);

        Assert.Equal(Verdict.Passed, run.Verdict);
        Assert.Contains("not compared with stable", run.Metrics.Single(m => m.Name == Latency).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_record_explains_every_metric_the_way_status_shows_it()
    {
        var observation = Observations.Healthy().WithCanary(Latency, Slow(500, 100)).ToObservation();

        var run = CanaryJudge.Judge(Observations.Slo, Spec, ComparisonPolicy.Default, Now, observation);

        Assert.Equal(Now, run.Time);
        Assert.Equal([MetricNames.RequestCount, Latency, Errors, MetricNames.InputSchemaErrorRate], run.Metrics.Select(m => m.Name));
        var latency = run.Metrics[1];
        Assert.Equal("0.2", AnalysisStatusFormat.Threshold(latency.Threshold));
        Assert.InRange(latency.Value!.Value, 0.2, 0.25); // the p95 estimate for humans sits in the bucket above the SLO
        Assert.InRange(latency.StableValue!.Value, 0.063, 0.1);
        Assert.Equal("<0.0001", AnalysisStatusFormat.PValue(latency.PValue));
        Assert.StartsWith("above the SLO: 100 of 500 requests slower than 0.2 s (20%) (SLO allows 5%, p=<0.0001)", latency.Reason, StringComparison.Ordinal);
        Assert.Equal(">=50", AnalysisStatusFormat.Threshold(run.Metrics[0].Threshold));
        Assert.StartsWith("Failed: latencyP95 (latencyP95: ", run.Reason, StringComparison.Ordinal);
        Assert.NotNull(run.Metrics[2].PValue);
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
        Assert.False(run.WaitingForData);
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
