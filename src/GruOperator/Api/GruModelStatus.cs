using System.ComponentModel;
using System.Text.Json.Serialization;
using GruOperator.Api.Schema;
using GruOperator.Domain.Conditions;

namespace GruOperator.Api;

/// <summary>What the operator observed and did; written only through the status subresource.</summary>
[Description("Observed state, written by the operator through the status subresource.")]
public sealed class GruModelStatus
{
    /// <summary>Generation this status reflects.</summary>
    [Description("metadata.generation this status was computed from.")]
    public long? ObservedGeneration { get; set; }

    /// <summary>Phase.</summary>
    [Description("Lifecycle phase, derived from the conditions.")]
    public ModelPhase? Phase { get; set; }

    /// <summary>Summary sentence.</summary>
    [Description("One sentence on what is happening or what went wrong.")]
    public string? Message { get; set; }

    /// <summary>Conditions.</summary>
    [Description("Ready, Progressing, ModelResolved, ModelVerified and SLOMet conditions.")]
    [ListMap("type")]
    public List<Condition>? Conditions { get; set; }

    /// <summary>Ready/desired.</summary>
    [Description("Ready stable replicas over desired, e.g. 2/3 (for kubectl get).")]
    public string? Ready { get; set; }

    /// <summary>Pods of the model, all tracks (the /scale subresource's status.replicas).</summary>
    [Description("Pods of the model in all tracks, as their Deployments count them: the current count /scale reports to kubectl scale, a HorizontalPodAutoscaler or KEDA.")]
    public int? Replicas { get; set; }

    /// <summary>Label selector of the model's pods (the /scale subresource's status.selector).</summary>
    [Description("Label selector of the model's serving pods in all tracks, e.g. serving.gru.dev/model=demo: what a HorizontalPodAutoscaler reads pod metrics with.")]
    [System.ComponentModel.DataAnnotations.MaxLength(320)]
    public string? Selector { get; set; }

    /// <summary>Stable track.</summary>
    [Description("The stable track, from its Deployment's real status.")]
    public TrackStatus? Stable { get; set; }

    /// <summary>Canary track.</summary>
    [Description("The running canary, if any.")]
    public CanaryStatus? Canary { get; set; }

    /// <summary>The last rolled-back canary.</summary>
    [Description("The last canary rolled back or aborted, while spec.model still names its model: it is not tried again until spec.model changes or serving.gru.dev/action=retry.")]
    public RolledBackStatus? RolledBack { get; set; }

    /// <summary>The registry's answer for an oci:// source.</summary>
    [Description("For an oci:// spec.model.source: the manifest digest it was pinned to and the model layer pods must report. Kept until spec.model changes or serving.gru.dev/action=re-resolve, so a moved tag changes nothing that is served.")]
    public ResolvedModelStatus? ResolvedModel { get; set; }

    /// <summary>Integrity check results.</summary>
    [Description("Results of the last integrity check of served models.")]
    public ServedModelsStatus? ServedModels { get; set; }

    /// <summary>Autoscaling.</summary>
    [Description("Load-driven replicas, when spec.serving.autoscaling is set.")]
    public AutoscalingStatus? Autoscaling { get; set; }

    /// <summary>Recent rollouts.</summary>
    [Description("The last 10 rollout events (promotions, rollbacks, aborts, supersessions, pauses, resumes, retries), newest first.")]
    [System.ComponentModel.DataAnnotations.MaxLength(10)]
    public List<RolloutRecord>? History { get; set; }
}

/// <summary>One track's serving state.</summary>
[Description("A track's revision, model and replicas.")]
public sealed class TrackStatus
{
    /// <summary>Revision.</summary>
    [Description("Revision number; it grows by one each time the model changes.")]
    public string? Revision { get; set; }

    /// <summary>Source.</summary>
    [Description("spec.model.source this revision serves.")]
    public string? ModelSource { get; set; }

    /// <summary>Digest.</summary>
    [Description("sha256:<hex> of the model this revision serves, when known.")]
    public string? ModelDigest { get; set; }

    /// <summary>Short digest.</summary>
    [Description("First 12 hex digits of modelDigest (for kubectl get).")]
    public string? ShortDigest { get; set; }

    /// <summary>Desired replicas.</summary>
    [Description("Desired replicas.")]
    public int Replicas { get; set; }

    /// <summary>Ready replicas.</summary>
    [Description("Ready replicas, from the Deployment's status.")]
    public int ReadyReplicas { get; set; }

    /// <summary>Updated replicas.</summary>
    [Description("Replicas already running the current pod template.")]
    public int UpdatedReplicas { get; set; }

    /// <summary>Unschedulable pods.</summary>
    [Description("Pods the scheduler cannot place (e.g. no free GPU).")]
    public int UnschedulableReplicas { get; set; }
}

/// <summary>Canary state.</summary>
[Description("The running canary.")]
public sealed class CanaryStatus
{
    /// <summary>Revision.</summary>
    [Description("Canary revision.")]
    public string? Revision { get; set; }

    /// <summary>Source.</summary>
    [Description("spec.model.source the canary serves.")]
    public string? ModelSource { get; set; }

    /// <summary>Digest.</summary>
    [Description("sha256:<hex> of the canary model.")]
    public string? ModelDigest { get; set; }

    /// <summary>Step.</summary>
    [Description("Index (from 0) of the current step in spec.rollout.canary.steps.")]
    public int Step { get; set; }

    /// <summary>Asked weight.</summary>
    [Description("Traffic weight the current step asks for, in percent.")]
    public int Weight { get; set; }

    /// <summary>Served weight.</summary>
    [Description("Traffic weight really served, in percent: the canary's share of ready pods (replicas routing) or the weight on the HTTPRoute (0 while no canary pod is ready).")]
    public int EffectiveWeight { get; set; }

    /// <summary>Asked/effective weight for kubectl get.</summary>
    [Description("The asked and the effective weight as asked/effective in percent, e.g. 10/25 (3 replicas at 10% with surge serve 25%): the Canary column of kubectl get gru.")]
    public string? Traffic { get; set; }

    /// <summary>Start.</summary>
    [Description("When the canary started.")]
    public DateTimeOffset? StartedAt { get; set; }

    /// <summary>Step start.</summary>
    [Description("When the current step started (its replicas were asked for).")]
    public DateTimeOffset? StepStartedAt { get; set; }

    /// <summary>Step reached.</summary>
    [Description("When the canary first had all its pods ready at this step; the step's pause and analysis count from here.")]
    public DateTimeOffset? StepReadyAt { get; set; }

    /// <summary>Not ready since.</summary>
    [Description("Since when the canary has not been ready at its step; progressDeadline counts from here.")]
    public DateTimeOffset? NotReadySince { get; set; }

    /// <summary>Pause reasons.</summary>
    [Description("Why the canary is held: RolloutPaused (spec.rollout.paused), AnalysisInconclusive or CanaryNoTraffic (resume with serving.gru.dev/action=resume).")]
    [ListMap("reason")]
    public List<PauseConditionStatus>? PauseConditions { get; set; }

    /// <summary>Promotion.</summary>
    [Description("Set while stable is rolled to the canary's model: AnalysisPassed or PromotedByUser.")]
    public string? Promotion { get; set; }

    /// <summary>Analysis.</summary>
    [Description("Analysis progress.")]
    public AnalysisStatus? Analysis { get; set; }
}

/// <summary>Why a canary is held.</summary>
[Description("One reason the canary is held.")]
public sealed class PauseConditionStatus
{
    /// <summary>Reason.</summary>
    [System.ComponentModel.DataAnnotations.Required]
    [Description("RolloutPaused, AnalysisInconclusive or CanaryNoTraffic.")]
    public string Reason { get; set; } = "";

    /// <summary>Since.</summary>
    [Description("When the hold began.")]
    public DateTimeOffset? StartTime { get; set; }
}

/// <summary>The last rolled-back canary.</summary>
[Description("A canary that was rolled back or aborted.")]
public sealed class RolledBackStatus
{
    /// <summary>Revision.</summary>
    [Description("Its revision.")]
    public string? Revision { get; set; }

    /// <summary>Source.</summary>
    [Description("spec.model.source it served.")]
    public string? ModelSource { get; set; }

    /// <summary>Digest.</summary>
    [Description("sha256:<hex> of its model, when known.")]
    public string? ModelDigest { get; set; }

    /// <summary>Reason.</summary>
    [Description("AnalysisFailed, AnalysisInconclusive, CanaryUnschedulable, CanaryFailing, CanaryProgressDeadlineExceeded or AbortedByUser.")]
    public string? Reason { get; set; }

    /// <summary>Message.</summary>
    [Description("What happened, naming the failing metrics with value, threshold, stable value and p-value.")]
    public string? Message { get; set; }

    /// <summary>Time.</summary>
    [Description("When it was rolled back.")]
    public DateTimeOffset? Time { get; set; }
}

/// <summary>Analysis progress.</summary>
[Description("Analysis progress of the canary.")]
public sealed class AnalysisStatus
{
    /// <summary>Runs.</summary>
    [Description("Analysis runs so far.")]
    public int Runs { get; set; }

    /// <summary>Failures in a row.</summary>
    [Description("Consecutive failed runs.")]
    public int ConsecutiveFailures { get; set; }

    /// <summary>Inconclusive in a row.</summary>
    [Description("Consecutive inconclusive runs.")]
    public int ConsecutiveInconclusive { get; set; }

    /// <summary>Next run not before.</summary>
    [Description("Set while analysis waits for canary traffic: the next run comes no sooner (when minRequests is expected at the rate seen, between half an interval and two intervals away).")]
    public DateTimeOffset? NextRunAt { get; set; }

    /// <summary>Last run.</summary>
    [Description("The last run.")]
    public AnalysisRunStatus? LastRun { get; set; }
}

/// <summary>A verdict.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<AnalysisVerdict>))]
public enum AnalysisVerdict
{
    /// <summary>Within SLOs.</summary>
    Passed,

    /// <summary>Outside SLOs.</summary>
    Failed,

    /// <summary>Not enough data.</summary>
    Inconclusive,
}

/// <summary>One analysis run.</summary>
[Description("One analysis run.")]
public sealed class AnalysisRunStatus
{
    /// <summary>Time.</summary>
    [Description("When the run finished.")]
    public DateTimeOffset? Time { get; set; }

    /// <summary>Verdict.</summary>
    [Description("Passed, Failed or Inconclusive.")]
    public AnalysisVerdict? Verdict { get; set; }

    /// <summary>Why.</summary>
    [Description("One line naming the metrics behind the verdict.")]
    public string? Reason { get; set; }

    /// <summary>Measurements.</summary>
    [Description("Each metric's measurement and verdict.")]
    [ListMap("name")]
    public List<MetricResult>? Metrics { get; set; }
}

/// <summary>One metric's measurement.</summary>
[Description("One metric's measurement.")]
public sealed class MetricResult
{
    /// <summary>Name.</summary>
    [System.ComponentModel.DataAnnotations.Required]
    [Description("Metric name.")]
    public string Name { get; set; } = "";

    /// <summary>Value.</summary>
    [Description("Canary value, as a decimal string.")]
    public string? Value { get; set; }

    /// <summary>Threshold.</summary>
    [Description("Threshold it was judged against.")]
    public string? Threshold { get; set; }

    /// <summary>Stable value.</summary>
    [Description("Stable's value, when compared.")]
    public string? StableValue { get; set; }

    /// <summary>P-value.</summary>
    [Description("p-value of the statistical test against stable or the SLO, when one ran, as a decimal string (\"<0.0001\" when smaller).")]
    public string? PValue { get; set; }

    /// <summary>Verdict.</summary>
    [Description("Passed, Failed or Inconclusive.")]
    public AnalysisVerdict? Verdict { get; set; }

    /// <summary>Why.</summary>
    [Description("One line explaining the verdict.")]
    public string? Reason { get; set; }
}

/// <summary>Integrity check summary.</summary>
[Description("Integrity check of served models.")]
public sealed class ServedModelsStatus
{
    /// <summary>Verified pods.</summary>
    [Description("Pods serving the pinned digest.")]
    public int Verified { get; set; }

    /// <summary>Mismatched pods.</summary>
    [Description("Pods serving another digest.")]
    public int Mismatched { get; set; }

    /// <summary>Unverified pods.</summary>
    [Description("Ready pods that did not say which digest they serve (no answer, an error, or no pinned digest known): never counted as verified.")]
    public int Unverified { get; set; }

    /// <summary>Last check.</summary>
    [Description("When the last check ran.")]
    public DateTimeOffset? LastCheck { get; set; }
}

/// <summary>A rollout event worth keeping.</summary>
[Description("One entry of the rollout history.")]
public sealed class RolloutRecord
{
    /// <summary>Revision.</summary>
    [Description("The canary revision it concerns.")]
    public string? Revision { get; set; }

    /// <summary>Source.</summary>
    [Description("spec.model.source of that revision.")]
    public string? ModelSource { get; set; }

    /// <summary>Digest.</summary>
    [Description("Its model digest, when known.")]
    public string? ModelDigest { get; set; }

    /// <summary>Outcome.</summary>
    [Description("Promoted, RolledBack, Aborted, Superseded, Paused, Resumed or Retried.")]
    public string? Outcome { get; set; }

    /// <summary>Reason.</summary>
    [Description("Machine-readable reason, e.g. AnalysisPassed, AnalysisFailed, PromotedByUser, ModelChanged.")]
    public string? Reason { get; set; }

    /// <summary>Message.</summary>
    [Description("What happened, in one sentence (for a rollback: the failing metrics with value, threshold, stable value and p-value).")]
    public string? Message { get; set; }

    /// <summary>Time.</summary>
    [Description("When it happened.")]
    public DateTimeOffset? Time { get; set; }
}

/// <summary>An oci:// source pinned to a digest.</summary>
[Description("An oci:// model source pinned to a manifest digest.")]
public sealed class ResolvedModelStatus
{
    /// <summary>What was resolved.</summary>
    [Description("spec.model.source as it was resolved (a tag or a digest reference).")]
    public string? Source { get; set; }

    /// <summary>The pinned reference.</summary>
    [Description("The reference every Deployment names: oci://host/repository@sha256:<manifest digest>, never a tag.")]
    public string? Reference { get; set; }

    /// <summary>Manifest digest.</summary>
    [Description("sha256:<hex> of the model's manifest.")]
    public string? Digest { get; set; }

    /// <summary>Layer digest.</summary>
    [Description("sha256:<hex> of the ONNX layer: what each pod's /v2/models/{name} parameters.digest must be. Empty until the registry has been asked.")]
    public string? LayerDigest { get; set; }

    /// <summary>When it was resolved.</summary>
    [Description("When the tag was resolved to the digest.")]
    public DateTimeOffset? ResolvedAt { get; set; }

    /// <summary>Where the tag points now, when elsewhere.</summary>
    [Description("The manifest digest the tag pointed to at the last check, when it is no longer the pinned one (condition ModelResolved reason TagMoved); serving.gru.dev/action=re-resolve moves to it.")]
    public string? TagDigest { get; set; }

    /// <summary>Last tag check.</summary>
    [Description("When the tag was last compared with the pinned digest (every integrity.verifyInterval).")]
    public DateTimeOffset? TagCheckedAt { get; set; }
}

/// <summary>Load-driven replicas: what the autoscaler saw, chose and why.</summary>
[Description("The autoscaler's view (spec.serving.autoscaling): the count it chose for the whole model, the load behind it and why. Also its memory (recent recommendations and scales), so the decision is recomputed from status alone.")]
public sealed class AutoscalingStatus
{
    /// <summary>Chosen count.</summary>
    [Description("The replica count the model's Deployments get, canary and stable together (the canary's share is split from it).")]
    public int DesiredReplicas { get; set; }

    /// <summary>Count before the decision.</summary>
    [Description("The count before the last decision.")]
    public int CurrentReplicas { get; set; }

    /// <summary>Raw recommendation.</summary>
    [Description("What the metric alone asks for, ceil(current × value / target), before windows, rate limits and bounds; unset without a value.")]
    public int? RecommendedReplicas { get; set; }

    /// <summary>Metric.</summary>
    [Description("inFlightRequests or queueWait.")]
    public string? Metric { get; set; }

    /// <summary>Current value.</summary>
    [Description("The metric's last value per pod (requests, or a duration for queueWait); unset when Prometheus had none.")]
    public string? CurrentValue { get; set; }

    /// <summary>Target.</summary>
    [Description("spec.serving.autoscaling.target.averageValue.")]
    public string? Target { get; set; }

    /// <summary>Pods reporting.</summary>
    [Description("Pods whose series the value was averaged over.")]
    public int Pods { get; set; }

    /// <summary>Unschedulable pods.</summary>
    [Description("The model's pods the scheduler could not place (e.g. no free nvidia.com/gpu): the count is capped at what runs.")]
    public int UnschedulableReplicas { get; set; }

    /// <summary>Last scale.</summary>
    [Description("When the count last changed.")]
    public DateTimeOffset? LastScaleTime { get; set; }

    /// <summary>Reason.</summary>
    [Description("ScaledUp, ScaledDown, WithinTolerance, NoMetric, ScaleUpStabilizing, ScaleDownStabilizing, RateLimited, CappedByCapacity, AtMaxReplicas or AtMinReplicas.")]
    public string? Reason { get; set; }

    /// <summary>Message.</summary>
    [Description("The reasoning in one sentence: value against target, what was wanted and what held it back.")]
    public string? Message { get; set; }

    /// <summary>Recommendation history.</summary>
    [Description("Recommendations still inside a stabilisation window, oldest first; each holds until the next.")]
    [System.ComponentModel.DataAnnotations.MaxLength(64)]
    public List<ScalingRecommendationStatus>? Recommendations { get; set; }

    /// <summary>Recent scales.</summary>
    [Description("Scales still inside a rate-limit period, oldest first.")]
    [System.ComponentModel.DataAnnotations.MaxLength(64)]
    public List<ScaleRecordStatus>? Scales { get; set; }

    /// <summary>Capacity ceiling.</summary>
    [Description("Set after pods could not be scheduled: the count stays at or below replicas for 2 minutes from since, then tries above it again.")]
    public CapacityCeilingStatus? Capacity { get; set; }
}

/// <summary>A recommendation.</summary>
[Description("A recommendation and when it was made.")]
public sealed class ScalingRecommendationStatus
{
    /// <summary>Time.</summary>
    [Description("When it was made.")]
    public DateTimeOffset Time { get; set; }

    /// <summary>Replicas.</summary>
    [Description("The count recommended.")]
    public int Replicas { get; set; }
}

/// <summary>A scale.</summary>
[Description("A scale the autoscaler made.")]
public sealed class ScaleRecordStatus
{
    /// <summary>Time.</summary>
    [Description("When.")]
    public DateTimeOffset Time { get; set; }

    /// <summary>From.</summary>
    [Description("The count before.")]
    public int From { get; set; }

    /// <summary>To.</summary>
    [Description("The count after.")]
    public int To { get; set; }
}

/// <summary>A capacity ceiling.</summary>
[Description("The most replicas found to fit.")]
public sealed class CapacityCeilingStatus
{
    /// <summary>Replicas.</summary>
    [Description("Pods that could be scheduled.")]
    public int Replicas { get; set; }

    /// <summary>Since.</summary>
    [Description("When pods above it were unschedulable.")]
    public DateTimeOffset Since { get; set; }
}
