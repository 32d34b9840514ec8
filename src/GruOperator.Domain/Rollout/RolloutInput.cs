using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;

namespace GruOperator.Domain.Rollout;

/// <summary>A manual command (annotation serving.gru.dev/action); the operator acts once and removes it.</summary>
public enum RolloutCommand
{
    /// <summary>No command.</summary>
    None,

    /// <summary>Skip the remaining steps and promote, if the promotion gate is open.</summary>
    Promote,

    /// <summary>Roll the canary back now.</summary>
    Abort,

    /// <summary>Continue a canary paused on inconclusive analysis.</summary>
    Resume,

    /// <summary>Start again a canary that was rolled back, without changing the spec.</summary>
    Retry,
}

/// <summary>
/// Whether the canary's served models are verified (the integrity check fills it): a promotion, automatic or manual,
/// never passes a closed gate. <paramref name="Mismatched"/>: a canary pod serves another model than its pinned one,
/// which rolls the canary back (a wrong model must not keep taking traffic while the analysis judges it).
/// </summary>
public sealed record PromotionGate(bool Open, string Reason, bool Mismatched = false)
{
    /// <summary>For when no integrity check runs: the gate is open and says so.</summary>
    public static PromotionGate Unchecked { get; } = new(true, "served models are not checked");
}

/// <summary>What the operator saw of one track's Deployment and pods, and the model its template serves.</summary>
public sealed record ObservedTrack(TrackObservation Workload, ModelIdentity Model);

/// <summary>A finished analysis run for a canary revision at a step (the answer to <see cref="RunAnalysis"/>).</summary>
public sealed record AnalysisResult(string Revision, int Step, AnalysisRun Run);

/// <summary>Everything one rollout decision depends on. No clock, no I/O: <paramref name="Now"/> is given.</summary>
/// <param name="Generation">metadata.generation, for the conditions.</param>
/// <param name="Desired">The model spec.model asks for.</param>
/// <param name="Replicas">spec.serving.replicas.</param>
/// <param name="Plan">spec.rollout, parsed.</param>
/// <param name="Status">The rollout status as last written.</param>
/// <param name="Stable">The stable track as observed; null when its Deployment does not exist.</param>
/// <param name="Canary">The canary track as observed; null when its Deployment does not exist.</param>
/// <param name="Analysis">The newest analysis run, if one finished since the last decision (recorded once).</param>
/// <param name="Command">The manual command, or None.</param>
/// <param name="Gate">Whether the canary may be promoted.</param>
/// <param name="Now">The decision's time (second precision, as metav1.Time stores it).</param>
public sealed record RolloutInput(
    long Generation,
    ModelIdentity Desired,
    int Replicas,
    RolloutPlan Plan,
    RolloutState Status,
    ObservedTrack? Stable,
    ObservedTrack? Canary,
    AnalysisResult? Analysis,
    RolloutCommand Command,
    PromotionGate Gate,
    DateTimeOffset Now);
