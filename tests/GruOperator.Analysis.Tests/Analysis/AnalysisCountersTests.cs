using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class AnalysisCountersTests
{
    private static readonly CanaryAnalysisSpec Spec = CanaryAnalysisSpec.Default with { FailureLimit = 2, InconclusiveLimit = 3 };

    /// <summary>P passed, F failed, I inconclusive, S inconclusive as a shared incident.</summary>
    private static (Verdict Verdict, bool Shared) Parse(char c) => c switch
    {
        'P' => (Verdict.Passed, false),
        'F' => (Verdict.Failed, false),
        'I' => (Verdict.Inconclusive, false),
        'S' => (Verdict.Inconclusive, true),
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    public static TheoryData<string, InconclusiveAction, int, int, int, AnalysisAction> Sequences => new()
    {
        { "", InconclusiveAction.Pause, 0, 0, 0, AnalysisAction.Continue },
        { "PPP", InconclusiveAction.Pause, 3, 0, 0, AnalysisAction.Continue },
        { "F", InconclusiveAction.Pause, 1, 1, 0, AnalysisAction.Continue },
        { "FF", InconclusiveAction.Pause, 2, 2, 0, AnalysisAction.Rollback },
        { "FPF", InconclusiveAction.Pause, 3, 1, 0, AnalysisAction.Continue },
        { "FIF", InconclusiveAction.Pause, 3, 2, 0, AnalysisAction.Rollback },
        { "II", InconclusiveAction.Pause, 2, 0, 2, AnalysisAction.Continue },
        { "III", InconclusiveAction.Pause, 3, 0, 3, AnalysisAction.Pause },
        { "III", InconclusiveAction.Rollback, 3, 0, 3, AnalysisAction.Rollback },
        { "IIPI", InconclusiveAction.Pause, 4, 0, 1, AnalysisAction.Continue },
        { "IIFI", InconclusiveAction.Pause, 4, 1, 1, AnalysisAction.Continue },
        { "FIII", InconclusiveAction.Pause, 4, 1, 3, AnalysisAction.Pause },
        { "FIIIF", InconclusiveAction.Pause, 5, 2, 0, AnalysisAction.Rollback },
        // A shared incident restarts the failure streak: the failure just before it was most likely its leading edge.
        { "FS", InconclusiveAction.Pause, 2, 0, 1, AnalysisAction.Continue },
        { "FSF", InconclusiveAction.Pause, 3, 1, 0, AnalysisAction.Continue },
        { "FSFF", InconclusiveAction.Pause, 4, 2, 0, AnalysisAction.Rollback },
        { "SSS", InconclusiveAction.Pause, 3, 0, 3, AnalysisAction.Pause },
        { "FSI", InconclusiveAction.Pause, 3, 0, 2, AnalysisAction.Continue },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Counts_consecutive_runs_and_decides(
        string verdicts, InconclusiveAction onInconclusive, int runs, int failures, int inconclusive, AnalysisAction action)
    {
        var counters = verdicts.Select(Parse).Aggregate(AnalysisCounters.Initial, (c, v) => c.Record(v.Verdict, v.Shared));

        Assert.Equal(new AnalysisCounters(runs, failures, inconclusive), counters);
        var decision = counters.Decide(Spec with { OnInconclusive = onInconclusive });
        Assert.Equal(action, decision.Action);
        Assert.False(string.IsNullOrWhiteSpace(decision.Message));
    }

    [Fact]
    public void Failure_limit_wins_over_inconclusive_limit()
    {
        var counters = new AnalysisCounters(9, 2, 3);

        var decision = counters.Decide(Spec);

        Assert.Equal(new AnalysisDecision(AnalysisAction.Rollback, "AnalysisFailed",
            "2 consecutive failed analysis runs reached failureLimit 2"), decision);
    }

    [Fact]
    public void Resuming_after_a_pause_forgets_the_doubt_but_not_the_failures()
    {
        var resumed = new AnalysisCounters(7, 1, 3).Resumed();

        Assert.Equal(new AnalysisCounters(7, 1, 0), resumed);
        Assert.Equal(AnalysisAction.Continue, resumed.Decide(Spec).Action);
    }

    [Fact]
    public void A_failure_limit_of_one_rolls_back_on_the_first_failure()
    {
        var decision = AnalysisCounters.Initial.Record(Verdict.Failed).Decide(Spec with { FailureLimit = 1 });

        Assert.Equal(AnalysisAction.Rollback, decision.Action);
    }
}
