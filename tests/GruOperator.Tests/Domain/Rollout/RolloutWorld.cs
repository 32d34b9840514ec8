using System.Text.Json;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;

namespace GruOperator.Tests.Domain.Rollout;

/// <summary>Inputs for rollout decisions: stable revision 3 serves model A; B and C are newer models.</summary>
internal static class RolloutWorld
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);
    public static readonly ModelIdentity A = new("oci://reg:5000/models/m:1.0", new string('a', 64));
    public static readonly ModelIdentity B = new("oci://reg:5000/models/m:1.1", new string('b', 64));
    public static readonly ModelIdentity C = new("oci://reg:5000/models/m:1.2", new string('c', 64));

    /// <summary>Same source as A, another digest: a sha256 change alone is a new model.</summary>
    public static readonly ModelIdentity ASha = new(A.Source, new string('d', 64));

    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    /// <summary>10% held 2m, then 50% held 5m; analysis every 30s, failureLimit 2, inconclusiveLimit 4 → Pause, deadline 10m.</summary>
    public static readonly RolloutPlan Plan = RolloutPlan.Default;

    public static ObservedTrack Track(string revision, ModelIdentity model, int desired, int ready, int? updated = null,
        int unschedulable = 0, string? unschedulableMessage = null, int failing = 0, string? failingMessage = null, bool templateObserved = true) =>
        new(new TrackObservation(desired, ready, updated ?? desired, templateObserved, unschedulable, unschedulableMessage, revision, failing, failingMessage), model);

    /// <summary>Stable revision 3 serving A on all <paramref name="replicas"/>, spec asks for A, no canary.</summary>
    public static RolloutInput Healthy(int replicas = 3) => new(
        Generation: 7,
        Desired: A,
        Replicas: replicas,
        Plan,
        new RolloutState(new TrackRevision("3", A), null, null, [], []),
        Track("3", A, replicas, replicas),
        Canary: null,
        Analysis: null,
        RolloutCommand.None,
        PromotionGate.Unchecked,
        T0);

    /// <summary>A canary of B at revision 4, at <paramref name="step"/>, reached at <paramref name="readyAt"/> (null: not yet).</summary>
    public static CanaryState Canary(int step = 0, DateTimeOffset? readyAt = null, RunRecord? lastRun = null, AnalysisCounters? counters = null,
        IReadOnlyList<PauseCondition>? pauses = null, string? promotion = null, DateTimeOffset? notReadySince = null, ModelIdentity? model = null) =>
        new("4", model ?? B, step, Plan.EffectiveSteps[step].Weight, EffectiveWeight: 0, StartedAt: T0, StepStartedAt: readyAt ?? T0,
            readyAt, notReadySince, counters ?? AnalysisCounters.Initial, lastRun, pauses ?? [], promotion);

    /// <summary>Spec asks for B; the canary state and observed canary pods as given (3 replicas, surge: stable 3 + canary 1 at 10%).</summary>
    public static RolloutInput Running(CanaryState canary, int canaryReady = 1, DateTimeOffset? now = null, int replicas = 3)
    {
        var input = Healthy(replicas);
        var desiredCanary = CanaryReplicaMath.Split(replicas, canary.Weight, input.Plan.Surge, input.Plan.Router).Canary;
        return input with
        {
            Desired = canary.Model,
            Status = input.Status with { Canary = canary },
            Canary = Track(canary.Revision, canary.Model, desiredCanary, canaryReady),
            Now = now ?? T0,
        };
    }

    public static AnalysisResult Run(DateTimeOffset time, Verdict verdict, int step = 0, string revision = "4") =>
        new(revision, step, new AnalysisRun(time, verdict, $"{verdict}: scripted", verdict switch
        {
            Verdict.Failed => [LatencyBreach],
            Verdict.Inconclusive => [new MetricResult(MetricNames.RequestCount, Verdict.Inconclusive, 12, new ThresholdRange(50, null), 400, null, "12 requests, fewer than minRequests 50")],
            _ => [new MetricResult(MetricNames.LatencyP95, Verdict.Passed, 0.08, new ThresholdRange(null, 0.2), 0.079, 0.41, "within the SLO")],
        }, []));

    public static readonly MetricResult LatencyBreach =
        new(MetricNames.LatencyP95, Verdict.Failed, 0.31, new ThresholdRange(null, 0.2), 0.081, 0.00001, "0.31 exceeds the SLO 0.2");

    public static RunRecord Record(DateTimeOffset time, Verdict verdict) => new(time, verdict, $"{verdict}: scripted");

    /// <summary>The state as the status subresource would hold it, for comparing two states field by field.</summary>
    public static string Json(RolloutState state) => JsonSerializer.Serialize(state);

    public static IEnumerable<RecordEvent> Events(this RolloutDecision decision) => decision.Actions.OfType<RecordEvent>();

    public static T Single<T>(this RolloutDecision decision) where T : RolloutAction => Assert.Single(decision.Actions.OfType<T>());
}
