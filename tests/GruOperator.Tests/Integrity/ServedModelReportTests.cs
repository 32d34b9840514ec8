using GruOperator.Domain.Conditions;
using GruOperator.Integrity;

namespace GruOperator.Tests.Integrity;

public sealed class ServedModelReportTests
{
    private const string A = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string B = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 20, 0, 0, TimeSpan.Zero);

    private static PodCheck Stable(string pod, string? expected, string? served, string? error = null) =>
        PodCheck.Of(pod, "uid-" + pod, "stable", expected, null, served, error);

    private static PodCheck Canary(string pod, string? expected, string? served, string? error = null) =>
        PodCheck.Of(pod, "uid-" + pod, "canary", expected, null, served, error);

    [Fact]
    public void APodIsVerifiedOnlyWhenItReportsThePinnedDigest()
    {
        Assert.Equal(PodVerdict.Verified, Stable("p", A, A).Verdict);
        Assert.Equal(PodVerdict.Mismatched, Stable("p", A, B).Verdict);
        // Silence is never a pass: no answer, or nothing to compare with, is unverified.
        Assert.Equal(PodVerdict.Unverified, Stable("p", A, null, "no answer: connection refused").Verdict);
        Assert.Equal(PodVerdict.Unverified, Stable("p", null, A).Verdict);
        Assert.Equal("no answer: connection refused", Stable("p", A, null, "no answer: connection refused").Detail);
    }

    [Fact]
    public void ModelVerifiedIsFalseNamingMismatchedPodsUnknownForSilentOnesAndTrueWhenAllMatch()
    {
        var mismatch = new ServedModelReport([Stable("s-1", A, A), Stable("s-2", A, B), Stable("s-3", A, null, "no answer")], Now).Condition(4, Now);
        Assert.Equal((ConditionTypes.ModelVerified, Condition.False, IntegrityReasons.DigestMismatch, 4L), (mismatch.Type, mismatch.Status, mismatch.Reason, mismatch.ObservedGeneration));
        Assert.Contains("s-2 (stable) serves sha256:bbbbbbbbbbbb", mismatch.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s-1", mismatch.Message, StringComparison.Ordinal);

        var silent = new ServedModelReport([Stable("s-1", A, A), Stable("s-3", A, null, "no answer within 2s")], Now).Condition(4, Now);
        Assert.Equal((Condition.Unknown, IntegrityReasons.PodsUnverified), (silent.Status, silent.Reason));
        Assert.Contains("s-3 (stable): no answer within 2s", silent.Message, StringComparison.Ordinal);

        var good = new ServedModelReport([Stable("s-1", A, A), Canary("c-1", B, B)], Now).Condition(4, Now);
        Assert.Equal((Condition.True, IntegrityReasons.DigestsMatch), (good.Status, good.Reason));

        Assert.Equal(IntegrityReasons.NoReadyPods, new ServedModelReport([], Now).Condition(1, Now).Reason);
    }

    [Fact]
    public void ThePromotionGateOpensOnlyWhenEveryCanaryPodIsVerified()
    {
        Assert.False(new ServedModelReport([Stable("s-1", A, A)], Now).CanaryGate().Open);
        var open = new ServedModelReport([Stable("s-1", A, B), Canary("c-1", B, B), Canary("c-2", B, B)], Now).CanaryGate();
        Assert.True(open.Open, open.Reason); // a stable mismatch is stable's problem, not the canary's

        var unverified = new ServedModelReport([Canary("c-1", B, B), Canary("c-2", B, null, "no answer")], Now).CanaryGate();
        Assert.False(unverified.Open);
        Assert.Contains("c-2 (canary): no answer", unverified.Reason, StringComparison.Ordinal);
        Assert.False(new ServedModelReport([Canary("c-1", B, A)], Now).CanaryGate().Open);
    }

    [Fact]
    public void TheGateTheRolloutReadsIsClosedUntilACheckVerifiedTheCanary()
    {
        var gates = new CanaryPromotionGate();
        Assert.False(gates.For("ml", "recs").Open);

        gates.Record("ml", "recs", new ServedModelReport([Canary("c-1", B, B)], Now));
        Assert.True(gates.For("ml", "recs").Open);
        Assert.False(gates.For("ml", "other").Open);

        gates.Record("ml", "recs", new ServedModelReport([Canary("c-1", B, B), Canary("c-2", B, A)], Now));
        Assert.Contains("c-2 (canary) serves sha256:aaaaaaaaaaaa", gates.For("ml", "recs").Reason, StringComparison.Ordinal);
        Assert.False(gates.For("ml", "recs").Open);
    }

    [Fact]
    public void AMismatchOutranksEverythingInThePhase()
    {
        IReadOnlyList<Condition> conditions =
        [
            new(ConditionTypes.Ready, Condition.True, ServingConditions.StableServing, "", 1, Now),
            new(ConditionTypes.ModelVerified, Condition.False, IntegrityReasons.DigestMismatch, "", 1, Now),
        ];
        Assert.Equal(ModelPhase.Degraded, PhaseRules.Derive(conditions, 3));
        Assert.Equal(ModelPhase.Healthy, PhaseRules.Derive([conditions[0], conditions[1] with { Status = Condition.Unknown }], 3));
    }
}
