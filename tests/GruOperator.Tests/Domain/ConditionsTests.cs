using GruOperator.Domain.Conditions;

namespace GruOperator.Tests.Domain;

public sealed class ConditionsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset T1 = T0.AddMinutes(5);

    public static TheoryData<string, string, string, DateTimeOffset> SetRows => new()
    {
        { "same status keeps the transition time", Condition.False, "Unschedulable", T0 },
        { "status change moves the transition time", Condition.True, "StableServing", T1 },
    };

    [Theory]
    [MemberData(nameof(SetRows))]
    public void SetKeepsLastTransitionTimeOnlyWhileStatusHolds(string scenario, string newStatus, string reason, DateTimeOffset expected)
    {
        var existing = new[] { new Condition(ConditionTypes.Ready, Condition.False, "ReplicasNotReady", "waiting", 1, T0) };
        var result = ConditionSet.Set(existing, new Condition(ConditionTypes.Ready, newStatus, reason, "m", 2, T1));
        var ready = Assert.Single(result);
        Assert.True(expected == ready.LastTransitionTime, scenario);
        Assert.Equal(reason, ready.Reason);
        Assert.Equal(2, ready.ObservedGeneration);
    }

    [Fact]
    public void SetAddsANewTypeAndLeavesOthersAlone()
    {
        var progressing = new Condition(ConditionTypes.Progressing, Condition.True, "RollingOut", "m", 1, T0);
        var result = ConditionSet.Set([progressing], new Condition(ConditionTypes.Ready, Condition.True, "StableServing", "m", 1, T1));
        Assert.Equal([ConditionTypes.Progressing, ConditionTypes.Ready], result.Select(c => c.Type));
        Assert.Same(progressing, result[0]);
    }

    public static TheoryData<string, string, string, string, int, ModelPhase> PhaseRows => new()
    {
        { "refused spec fails", Condition.False, PhaseRules.InvalidSpecReason, Condition.False, 0, ModelPhase.Failed },
        { "rolling out", Condition.False, "ReplicasNotReady", Condition.True, 0, ModelPhase.Progressing },
        { "ready and done", Condition.True, "StableServing", Condition.False, 3, ModelPhase.Healthy },
        { "nothing ready yet", Condition.False, "Unschedulable", Condition.False, 0, ModelPhase.Pending },
        { "lost some replicas", Condition.False, "Unschedulable", Condition.False, 1, ModelPhase.Degraded },
    };

    [Theory]
    [MemberData(nameof(PhaseRows))]
    public void PhaseFollowsConditions(string scenario, string ready, string reason, string progressing, int readyReplicas, ModelPhase expected)
    {
        var conditions = new[]
        {
            new Condition(ConditionTypes.Ready, ready, reason, "m", 1, T0),
            new Condition(ConditionTypes.Progressing, progressing, "x", "m", 1, T0),
        };
        Assert.True(expected == PhaseRules.Derive(conditions, readyReplicas), scenario);
    }

    public static TheoryData<string, TrackObservation, string, string, ModelPhase> AssessRows => new()
    {
        { "all ready", new(3, 3, 3, true, 0, null, "2"), "StableServing", "RolloutComplete", ModelPhase.Healthy },
        { "new template not yet observed", new(3, 3, 3, false, 0, null, "2"), "ReplicasNotReady", "RollingOut", ModelPhase.Progressing },
        { "updating replicas", new(3, 1, 1, true, 0, null, "2"), "ReplicasNotReady", "RollingOut", ModelPhase.Progressing },
        { "no GPU for any pod", new(2, 0, 2, true, 2, "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.", "1"), "Unschedulable", "RolloutComplete", ModelPhase.Pending },
        { "one pod without GPU", new(2, 1, 2, true, 1, "Insufficient nvidia.com/gpu", "1"), "Unschedulable", "RolloutComplete", ModelPhase.Degraded },
        { "pods crash", new(2, 0, 2, true, 0, null, "1", 2, "pod p container gru-server is CrashLoopBackOff"), "PodsFailing", "RolloutComplete", ModelPhase.Pending },
        { "rollout stalled", new(2, 1, 1, true, 0, null, "3", StalledMessage: "ReplicaSet \"m-abc\" has timed out progressing."), "ProgressDeadlineExceeded", "ProgressDeadlineExceeded", ModelPhase.Degraded },
        { "quota refuses every pod", new(2, 0, 0, true, 0, null, "1", ReplicaFailureMessage: "FailedCreate: exceeded quota: gpu"), "ReplicaFailure", "ReplicaFailure", ModelPhase.Pending },
        { "pods cannot be created while old ones crash", new(2, 0, 2, true, 0, null, "1", 1, "pod p is CrashLoopBackOff", ReplicaFailureMessage: "FailedCreate: RuntimeClass \"nvidia\" not found"), "ReplicaFailure", "ReplicaFailure", ModelPhase.Pending },
        { "zero replicas asked", new(0, 0, 0, true, 0, null, "1"), "StableServing", "RolloutComplete", ModelPhase.Healthy },
        { "first deploy coming up", new(3, 1, 3, true, 0, null, "1"), "ReplicasNotReady", "RollingOut", ModelPhase.Progressing },
        { "first deploy, none ready yet", new(3, 0, 3, true, 0, null, "1"), "ReplicasNotReady", "RollingOut", ModelPhase.Progressing },
    };

    public static TheoryData<string, string, long, TrackObservation, string, ModelPhase> AssessAfterRows => new()
    {
        // (scenario, Progressing reason before, its observedGeneration, now observed, Progressing reason after, phase); generation 4.
        { "complete, then lost a pod", "RolloutComplete", 4, new(3, 2, 3, true, 0, null, "1"), "RolloutComplete", ModelPhase.Degraded },
        { "complete, then lost every pod", "RolloutComplete", 4, new(3, 0, 3, true, 0, null, "1"), "RolloutComplete", ModelPhase.Pending },
        { "scaled up from a complete generation", "RolloutComplete", 3, new(5, 3, 5, true, 0, null, "1"), "RollingOut", ModelPhase.Progressing },
        { "still coming up", "RollingOut", 4, new(3, 2, 3, true, 0, null, "1"), "RollingOut", ModelPhase.Progressing },
        { "coming up, then all ready", "RollingOut", 4, new(3, 3, 3, true, 0, null, "1"), "RolloutComplete", ModelPhase.Healthy },
        { "complete, stays complete", "RolloutComplete", 4, new(3, 3, 3, true, 0, null, "1"), "RolloutComplete", ModelPhase.Healthy },
    };

    [Theory]
    [MemberData(nameof(AssessAfterRows))]
    public void A_revision_is_Progressing_until_it_was_once_complete_and_Degraded_only_after(string scenario, string before, long beforeGeneration,
        TrackObservation track, string progressingReason, ModelPhase phase)
    {
        Condition[] current = [new(ConditionTypes.Progressing, before == "RolloutComplete" ? Condition.False : Condition.True, before, "earlier", beforeGeneration, T0)];

        var result = ServingConditions.Assess(current, track, 4, T0.AddSeconds(10));

        Assert.True(progressingReason == ConditionSet.Find(result.Conditions, ConditionTypes.Progressing)!.Reason, scenario);
        Assert.True(phase == result.Phase, $"{scenario}: phase {result.Phase}");
    }

    [Theory]
    [MemberData(nameof(AssessRows))]
    public void AssessTurnsObservationsIntoConditions(string scenario, TrackObservation track, string readyReason, string progressingReason, ModelPhase phase)
    {
        var result = ServingConditions.Assess(null, track, 4, T0);
        var ready = ConditionSet.Find(result.Conditions, ConditionTypes.Ready)!;
        var progressing = ConditionSet.Find(result.Conditions, ConditionTypes.Progressing)!;
        Assert.True(readyReason == ready.Reason, $"{scenario}: Ready reason {ready.Reason}");
        Assert.True(progressingReason == progressing.Reason, $"{scenario}: Progressing reason {progressing.Reason}");
        Assert.True(phase == result.Phase, $"{scenario}: phase {result.Phase}");
        Assert.All(result.Conditions, c => Assert.Equal(4, c.ObservedGeneration));
        if (track.UnschedulableMessage is { } why) Assert.Contains(why, ready.Message, StringComparison.Ordinal);
        if (track.FailingMessage is { } failing && ready.Reason == ServingConditions.PodsFailing) Assert.Contains(failing, ready.Message, StringComparison.Ordinal);
        if (track.ReplicaFailureMessage is { } refused) Assert.Contains(refused, ready.Message, StringComparison.Ordinal);
        if (track.StalledMessage is { } stalled) Assert.Contains(stalled, progressing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefuseMarksBothConditionsInvalidSpecAndFails()
    {
        var result = ServingConditions.Refuse(null, "spec.model.source is empty", 3, T0);
        Assert.Equal(ModelPhase.Failed, result.Phase);
        Assert.All(result.Conditions, c =>
        {
            Assert.Equal(Condition.False, c.Status);
            Assert.Equal(PhaseRules.InvalidSpecReason, c.Reason);
        });
        Assert.Contains("spec.model.source", result.Message, StringComparison.Ordinal);
    }
}
