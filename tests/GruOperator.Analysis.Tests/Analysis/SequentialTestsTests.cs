using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

/// <summary>
/// The anytime-valid tests: their promise (a false alarm at most alpha of the time however often one looks) checked
/// exactly, by dynamic programming over every path of counts, and their power on the counts the issue is about.
/// </summary>
public sealed class SequentialTestsTests
{
    /// <summary>
    /// P(the e-value ever reaches 1/alpha within <paramref name="horizon"/> trials) when the true share is
    /// <paramref name="truth"/> and the null allows <paramref name="share"/>, computed exactly over all count paths.
    /// </summary>
    private static double EverRejects(double share, double truth, double alpha, int horizon)
    {
        var alive = new double[horizon + 2];
        alive[0] = 1;
        double rejected = 0;
        for (var n = 1; n <= horizon; n++)
        {
            var next = new double[horizon + 2];
            for (var k = 0; k < n; k++)
            {
                next[k] += alive[k] * (1 - truth);
                next[k + 1] += alive[k] * truth;
            }

            for (var k = 0; k <= n; k++)
            {
                if (next[k] > 0 && SequentialTests.EValue(n, k, share) >= 1 / alpha)
                {
                    rejected += next[k];
                    next[k] = 0;
                }
            }

            alive = next;
        }

        return rejected;
    }

    public static TheoryData<string, double, double, double, int> Nulls => new()
    {
        { "errors at exactly the 1% SLO, looked at after every request", 0.01, 0.01, 0.01, 3000 },
        { "errors below the SLO", 0.01, 0.005, 0.01, 3000 },
        { "latency: 5% beyond the bound, at the SLO", 0.05, 0.05, 0.01, 2000 },
        { "a split at the tolerated ratio (q0 0.15), the comparison's alpha", 0.15, 0.15, 0.001, 2000 },
        { "a split at half the tolerated ratio", 0.5, 0.4, 0.01, 1500 },
    };

    [Theory]
    [MemberData(nameof(Nulls))]
    public void Looking_after_every_request_never_raises_the_false_alarm_rate_above_alpha(string scenario, double share, double truth, double alpha, int horizon)
    {
        var p = EverRejects(share, truth, alpha, horizon);

        Assert.True(p <= alpha, $"{scenario}: rejected with probability {p:G4} > {alpha}");
    }

    public static TheoryData<string, double, double, int, double> Powers => new()
    {
        // 1.5% errors against a 1% SLO over a 50% step of 5 minutes at 40 req/s: about 6000 canary requests.
        { "1.5% errors against 1% over 6000 requests", 0.01, 0.015, 6000, 0.5 },
        { "5% errors against 1% over 300 requests", 0.01, 0.05, 300, 0.9 },
        { "twice the tolerated split over 400 events", 0.15, 0.3, 400, 0.99 },
    };

    [Theory]
    [MemberData(nameof(Powers))]
    public void Accumulated_evidence_catches_weak_regressions(string scenario, double share, double truth, int horizon, double atLeast)
    {
        var p = EverRejects(share, truth, 0.01, horizon);

        Assert.True(p >= atLeast, $"{scenario}: caught with probability {p:G4} < {atLeast}");
    }

    public static TheoryData<string, long, long, double, double, double> Values => new()
    {
        { "no trials is no evidence", 0, 0, 0.01, 1, 1 },
        { "no events is evidence for the null", 1000, 0, 0.01, 0, 0.02 },
        { "a share of 1 is never exceeded", 100, 100, 1, 1, 1 },
        { "a zero allowance is disproved by one event", 10, 1, 0, double.PositiveInfinity, double.PositiveInfinity },
        { "a zero allowance with no event", 10, 0, 0, 1, 1 },
        { "15 of 500 against 1% is strong evidence", 500, 15, 0.01, 100, 1e6 },
        { "8 of 500 against 1% is not yet", 500, 8, 0.01, 0.5, 100 },
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void The_e_value_reads_the_counts(string scenario, long trials, long events, double share, double low, double high)
    {
        var e = SequentialTests.EValue(trials, events, share);

        Assert.True(e >= low && e <= high, $"{scenario}: e = {e:G4}, expected within [{low}, {high}]");
        Assert.Equal(Math.Min(1, 1 / e), SequentialTests.PValue(trials, events, share));
    }

    public static TheoryData<long, long, double, double> Splits => new()
    {
        { 100, 900, 1, 0.1 },           // no tolerance: the canary's share of requests
        { 100, 900, 1.5, 0.142857 },    // 0.15 / (0.15 + 0.9)
        { 500, 500, 1.6, 0.615385 },    // 0.8 / (0.8 + 0.5)
        { 1, 0, 2, 1 },                 // stable idle: every event is the canary's
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void The_split_a_tolerated_ratio_allows(long canary, long stable, double ratio, double expected)
    {
        Assert.Equal(expected, SequentialTests.SplitShare(canary, stable, ratio), 5);
    }

    [Fact]
    public void A_canary_taking_its_share_of_events_is_no_evidence_but_a_much_larger_share_is()
    {
        Assert.True(SequentialTests.SplitPValue(10, 1000, 90, 9000, 1.6) > 0.5);
        Assert.True(SequentialTests.SplitPValue(60, 1000, 90, 9000, 1.6) < 0.001);
        Assert.Equal(1, SequentialTests.SplitPValue(5, 0, 5, 100, 1.6));
    }
}
