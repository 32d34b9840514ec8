using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>
/// The run's step look (issue 22): every SLO SLI over the step so far, judged by anytime-valid tests, so a weak
/// regression that passes some windows and fails others is still caught once the step's traffic holds the evidence.
/// It only adds failures; the run's own window decides everything else.
/// </summary>
public sealed class CanaryJudgeStepLookTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private static readonly AnalysisWindow Step = AnalysisWindow.Between(Now - TimeSpan.FromMinutes(5), Now);
    private const string Errors = MetricNames.ErrorRate;
    private const string Latency = MetricNames.LatencyP95;

    /// <summary>Own window: 600 requests per track, healthy unless changed; the step's counts per row.</summary>
    public static TheoryData<string, Func<Observations, Observations>, Dictionary<string, (Measurement Canary, Measurement Stable)>, bool, Verdict, string?> Scenarios => new()
    {
        { "1.5% errors against a 1% SLO over the step fails (the window alone passes)", o => o.WithCanary(Errors, Observations.Errors(9, 600)),
            new() { [Errors] = (Observations.Errors(90, 6000), Observations.Errors(6, 6000)) }, true, Verdict.Failed, "over the step so far (300 s): above the SLO: 90 of 6000" },
        { "1.5% errors, with stable at 1.5% too, is no failure of the canary", o => o.WithCanary(Errors, Observations.Errors(9, 600)).WithStable(Errors, Observations.Errors(9, 600)),
            new() { [Errors] = (Observations.Errors(90, 6000), Observations.Errors(90, 6000)) }, true, Verdict.Passed, null },
        { "1.2% errors over the step is not enough evidence against the SLO (stable not compared)", o => o.WithCanary(Errors, Observations.Errors(7, 600)),
            new() { [Errors] = (Observations.Errors(70, 6000), Observations.Errors(6, 6000)) }, false, Verdict.Passed, "not compared with stable" },
        { "0.8% errors against stable's 0.1% over the step is worse than stable", o => o.WithCanary(Errors, Observations.Errors(5, 600)),
            new() { [Errors] = (Observations.Errors(48, 6000), Observations.Errors(6, 6000)) }, true, Verdict.Failed, "worse than stable: share answered 5xx" },
        { "... but not with compareToStable false", o => o.WithCanary(Errors, Observations.Errors(5, 600)),
            new() { [Errors] = (Observations.Errors(48, 6000), Observations.Errors(6, 6000)) }, false, Verdict.Passed, null },
        { "0.2% errors against stable's 0.1% is within the 0.3-point tolerance", o => o,
            new() { [Errors] = (Observations.Errors(12, 6000), Observations.Errors(6, 6000)) }, true, Verdict.Passed, null },
        { "a heavier tail over the step at 10% weight fails", o => o.WithRequests(110, 1000),
            new() { [Latency] = (Measurement.Of(Observations.Latency(1100, 0.040, tailShare: 0.1, tailFactor: 2.3)), Measurement.Of(Observations.Latency(10000, 0.040))) }, true, Verdict.Failed, "worse than stable: share slower than" },
        { "the same tail with the same stable is nothing", o => o.WithRequests(110, 1000),
            new() { [Latency] = (Measurement.Of(Observations.Latency(1100, 0.040, tailShare: 0.1, tailFactor: 2.3)), Measurement.Of(Observations.Latency(10000, 0.040, tailShare: 0.1, tailFactor: 2.3))) }, true, Verdict.Passed, null },
        { "a failure in the own window is decided there", o => o.WithCanary(Errors, Observations.Errors(30, 600)),
            new() { [Errors] = (Observations.Errors(90, 6000), Observations.Errors(6, 6000)) }, true, Verdict.Failed, "above the SLO: 30 of 600" },
        { "a shared incident in the own window stays one", o => o.WithCanary(Errors, Observations.Errors(30, 600)).WithStable(Errors, Observations.Errors(28, 600)),
            new() { [Errors] = (Observations.Errors(120, 6000), Observations.Errors(30, 6000)) }, true, Verdict.Inconclusive, "shared incident" },
        { "a failed step query leaves the own window to decide", o => o,
            new() { [Errors] = (Measurement.Failed("timeout"), Observations.Errors(6, 6000)) }, true, Verdict.Passed, null },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Judges_the_step_so_far(
        string scenario, Func<Observations, Observations> window, Dictionary<string, (Measurement Canary, Measurement Stable)> step, bool compare, Verdict expected, string? explained)
    {
        var observed = window(Observations.Healthy().WithRequests(600, 600)).ToObservation() with
        {
            Step = new EvidenceObservation(Step, step.ToDictionary(s => s.Key, s => s.Value.Canary), step.ToDictionary(s => s.Key, s => s.Value.Stable)),
        };

        var run = CanaryJudge.Judge(Observations.Slo, CanaryAnalysisSpec.Default with { CompareToStable = compare }, ComparisonPolicy.Default, Now, observed);

        var metric = Assert.Single(run.Metrics, m => m.Name == step.Keys.Single());
        Assert.True(expected == metric.Verdict, $"{scenario}: expected {expected}, got {metric.Verdict}: {metric.Reason}");
        Assert.DoesNotContain('\n', metric.Reason);
        if (explained is not null)
        {
            Assert.Contains(explained, metric.Reason, StringComparison.Ordinal);
        }

        if (metric.Verdict == Verdict.Failed && metric.Reason.StartsWith("over the step", StringComparison.Ordinal))
        {
            Assert.Contains("this run's own window:", metric.Reason, StringComparison.Ordinal);
            Assert.True(metric.PValue < 0.01, $"{scenario}: the status p-value is the step look's, {metric.PValue}");
        }
    }

    [Theory]
    [InlineData(false, Verdict.Passed)]
    [InlineData(true, Verdict.Failed)]
    public void A_run_that_may_let_the_step_pass_tests_all_its_requests_once_exactly(bool closesStep, Verdict expected)
    {
        // 85 of 6000 (1.4%) against 1%: exact p about 0.001, but the anytime-valid e-value is only about 20 (p 0.05).
        var observed = Observations.Healthy().WithRequests(600, 600).WithCanary(Errors, Observations.Errors(8, 600)).ToObservation() with
        {
            Step = new EvidenceObservation(Step,
                new Dictionary<string, Measurement> { [Errors] = Observations.Errors(85, 6000) },
                new Dictionary<string, Measurement> { [Errors] = Observations.Errors(48, 6000) }) { ClosesStep = closesStep },
        };

        var run = CanaryJudge.Judge(Observations.Slo, CanaryAnalysisSpec.Default, ComparisonPolicy.Default, Now, observed);

        var metric = Assert.Single(run.Metrics, m => m.Name == Errors);
        Assert.True(expected == metric.Verdict, $"closesStep {closesStep}: {metric.Reason}");
        if (closesStep)
        {
            Assert.Contains("above the SLO: 85 of 6000 requests answered 5xx", metric.Reason, StringComparison.Ordinal);
            Assert.Contains("all the step's requests, exact p=", metric.Reason, StringComparison.Ordinal);
        }
    }
}
