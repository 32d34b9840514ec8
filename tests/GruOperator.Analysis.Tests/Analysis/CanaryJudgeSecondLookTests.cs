using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>
/// The run's second look at rate SLIs: the previous window and its own together, each look at half the alphas, so a
/// breach that began late in a passed window is judged on all its requests without raising the false-alarm rate.
/// </summary>
public sealed class CanaryJudgeSecondLookTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private static readonly AnalysisWindow Longer = AnalysisWindow.Between(Now - TimeSpan.FromSeconds(60), Now);
    private const string Errors = MetricNames.ErrorRate;

    /// <summary>Own window: 100 canary and 1000 stable requests; the longer one 200 and 2000.</summary>
    public static TheoryData<string, (long C, long S), (long C, long S)?, Verdict, string?> Scenarios => new()
    {
        { "3 of 100 alone is only doubtful", (3, 1), null, Verdict.Inconclusive, "not significantly" },
        { "3 of 100, and 9 of 200 over both windows, fails on the second look", (3, 1), (9, 2), Verdict.Failed, "over the last two windows (60 s, no failure counted yet)" },
        { "a healthy canary passes both looks", (1, 1), (2, 2), Verdict.Passed, null },
        { "4 of 200 (2%) against 2 of 2000 is not evidence at half the alphas", (1, 1), (4, 2), Verdict.Passed, null },
        { "a failure in the own window is decided there", (10, 1), (10, 2), Verdict.Failed, "10 of 100 requests answered 5xx" },
        { "a shared incident in the own window stays a shared incident", (10, 100), (12, 110), Verdict.Inconclusive, "shared incident" },
        { "a shared incident over both windows is not the canary's failure", (2, 10), (20, 200), Verdict.Passed, null },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Judges_the_rate_slis_twice(string scenario, (long C, long S) own, (long C, long S)? longer, Verdict expected, string? explained)
    {
        var observed = Observations.Healthy().WithRequests(100, 1000)
            .WithCanary(Errors, Observations.Errors(own.C, 100)).WithStable(Errors, Observations.Errors(own.S, 1000)).ToObservation();
        if (longer is { } l)
        {
            observed = observed with
            {
                Evidence = new EvidenceObservation(Longer,
                    new Dictionary<string, Measurement> { [Errors] = Observations.Errors(l.C, 200) },
                    new Dictionary<string, Measurement> { [Errors] = Observations.Errors(l.S, 2000) }),
            };
        }

        var run = CanaryJudge.Judge(Observations.Slo, CanaryAnalysisSpec.Default, ComparisonPolicy.Default, Now, observed);

        var metric = Assert.Single(run.Metrics, m => m.Name == Errors);
        Assert.True(expected == metric.Verdict, $"{scenario}: expected {expected}, got {metric.Verdict}: {metric.Reason}");
        if (explained is not null)
        {
            Assert.Contains(explained, metric.Reason, StringComparison.Ordinal);
        }

        if (longer is not null && !(explained?.StartsWith("over the last", StringComparison.Ordinal) ?? false))
        {
            Assert.DoesNotContain("over the last two windows", metric.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Each_look_uses_half_the_alphas()
    {
        var halved = ComparisonPolicy.Default.Halved();

        Assert.Equal(ComparisonPolicy.Default.SloAlpha / 2, halved.SloAlpha);
        Assert.Equal(ComparisonPolicy.Default.ComparisonAlpha / 2, halved.ComparisonAlpha);
        Assert.Equal(ComparisonPolicy.Default.ErrorRate, halved.ErrorRate);
    }
}
