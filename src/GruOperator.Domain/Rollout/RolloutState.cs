using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;

namespace GruOperator.Domain.Rollout;

/// <summary>A track's model version: the revision number and the model it serves.</summary>
public sealed record TrackRevision(string Revision, ModelIdentity Model);

/// <summary>Why a canary is held at its step.</summary>
public enum PauseReason
{
    /// <summary>spec.rollout.paused is true; clears when the spec says false.</summary>
    RolloutPaused,

    /// <summary>inconclusiveLimit reached with onInconclusive: Pause; clears on a resume command.</summary>
    AnalysisInconclusive,

    /// <summary>The canary served fewer than minRequests for progressDeadline: it gets no traffic; clears on a resume command.</summary>
    CanaryNoTraffic,
}

/// <summary>One reason a canary is held, and since when (Argo's pauseConditions).</summary>
public sealed record PauseCondition(PauseReason Reason, DateTimeOffset StartTime);

/// <summary>The last analysis run the rollout recorded: enough to time the next one and to know whether the step passed.</summary>
public sealed record RunRecord(DateTimeOffset Time, Verdict Verdict, string Reason);

/// <summary>
/// A running canary. Every field the state machine needs to resume after a restart lives here, so a new leader
/// continues at the same step with the same counters.
/// </summary>
/// <param name="Revision">The canary's revision.</param>
/// <param name="Model">The model it serves.</param>
/// <param name="Step">Index into the plan's steps.</param>
/// <param name="Weight">The weight the step asks for, in percent.</param>
/// <param name="EffectiveWeight">The weight really served: from ready counts (replicas routing) or the weight on the route (Gateway API).</param>
/// <param name="StartedAt">When the canary started.</param>
/// <param name="StepStartedAt">When the current step started (its replicas were asked for).</param>
/// <param name="StepReadyAt">When the canary first had all its replicas ready at this step; pause and analysis count from here.</param>
/// <param name="NotReadySince">Since when the canary has not been ready at its step; progressDeadline counts from here.</param>
/// <param name="Analysis">The consecutive-run counters.</param>
/// <param name="LastRun">The last recorded run, if any.</param>
/// <param name="PauseConditions">Why the canary is held; empty while it progresses.</param>
/// <param name="Promotion">Null while the canary is under test; the reason once stable is being rolled to it (AnalysisPassed, PromotedByUser).</param>
public sealed record CanaryState(
    string Revision,
    ModelIdentity Model,
    int Step,
    int Weight,
    int EffectiveWeight,
    DateTimeOffset StartedAt,
    DateTimeOffset StepStartedAt,
    DateTimeOffset? StepReadyAt,
    DateTimeOffset? NotReadySince,
    AnalysisCounters Analysis,
    RunRecord? LastRun,
    IReadOnlyList<PauseCondition> PauseConditions,
    string? Promotion)
{
    /// <summary>
    /// Set by a run that waited for canary traffic: no run before this instant (when minRequests is expected), so a canary
    /// short of traffic does not re-query Prometheus on every reconcile. Ignored once a later run is recorded.
    /// </summary>
    public DateTimeOffset? NextRunAt { get; init; }

    /// <summary>Whether anything holds the canary at its step.</summary>
    public bool IsPaused => PauseConditions.Count > 0;

    /// <summary>Whether stable is being rolled to this canary's model.</summary>
    public bool IsPromoting => Promotion is not null;

    /// <summary>Whether <paramref name="reason"/> holds the canary.</summary>
    public bool PausedFor(PauseReason reason) => PauseConditions.Any(p => p.Reason == reason);

    /// <summary>The canary as a track revision.</summary>
    public TrackRevision Track => new(Revision, Model);
}

/// <summary>
/// The last canary was rolled back (or aborted): its model is not tried again until spec.model changes or a retry
/// is asked for.
/// </summary>
public sealed record RolledBackState(string Revision, ModelIdentity Model, string Reason, string Message, DateTimeOffset Time);

/// <summary>What a history entry records.</summary>
public enum RolloutOutcome
{
    /// <summary>The canary became stable.</summary>
    Promoted,

    /// <summary>Analysis or the progress deadline rolled the canary back.</summary>
    RolledBack,

    /// <summary>A human aborted the canary, the model was changed back, or the strategy changed to Recreate.</summary>
    Aborted,

    /// <summary>A newer model replaced the canary.</summary>
    Superseded,

    /// <summary>The canary was paused (rollout.paused or inconclusive analysis).</summary>
    Paused,

    /// <summary>The canary was resumed.</summary>
    Resumed,

    /// <summary>A rolled-back model was retried.</summary>
    Retried,
}

/// <summary>One entry of status.history.</summary>
public sealed record HistoryEntry(string Revision, ModelIdentity Model, RolloutOutcome Outcome, string Reason, string Message, DateTimeOffset Time);

/// <summary>The rollout part of a GruModel's status: the only memory the state machine has.</summary>
/// <param name="Stable">The stable track's revision and model; null before the first decision.</param>
/// <param name="Canary">The running canary, if any.</param>
/// <param name="RolledBack">The last rolled-back canary while spec.model still names it.</param>
/// <param name="History">Newest first, at most <see cref="RolloutHistory.Capacity"/> entries.</param>
/// <param name="Conditions">Ready and Progressing (and others the state machine leaves alone).</param>
public sealed record RolloutState(
    TrackRevision? Stable,
    CanaryState? Canary,
    RolledBackState? RolledBack,
    IReadOnlyList<HistoryEntry> History,
    IReadOnlyList<Condition> Conditions)
{
    /// <summary>The status of a GruModel the operator has not seen yet.</summary>
    public static RolloutState Empty { get; } = new(null, null, null, [], []);
}

/// <summary>status.history arithmetic.</summary>
public static class RolloutHistory
{
    /// <summary>Entries kept: the last 10.</summary>
    public const int Capacity = 10;

    /// <summary><paramref name="history"/> with <paramref name="entry"/> first, the oldest dropped beyond <see cref="Capacity"/>.</summary>
    public static IReadOnlyList<HistoryEntry> Add(IReadOnlyList<HistoryEntry> history, HistoryEntry entry) =>
        [entry, .. history.Take(Capacity - 1)];
}
