namespace GruOperator.Domain.Rollout;

/// <summary>Machine-readable reasons the rollout puts on the Progressing condition, history entries and Events.</summary>
public static class RolloutReasons
{
    /// <summary>Progressing=True: a canary walks through its steps.</summary>
    public const string CanaryProgressing = "CanaryProgressing";

    /// <summary>Progressing=True: stable is rolling to the canary's model.</summary>
    public const string Promoting = "Promoting";

    /// <summary>Event: a canary started.</summary>
    public const string CanaryStarted = "CanaryStarted";

    /// <summary>Event: the canary moved to its next step.</summary>
    public const string CanaryStepChanged = "CanaryStepChanged";

    /// <summary>Event and history: stable now serves the canary's model.</summary>
    public const string Promoted = "Promoted";

    /// <summary>Promotion after the last step's analysis passed.</summary>
    public const string AnalysisPassed = "AnalysisPassed";

    /// <summary>Promotion asked for with serving.gru.dev/action=promote.</summary>
    public const string PromotedByUser = "PromotedByUser";

    /// <summary>Event: a promote command met a closed promotion gate.</summary>
    public const string PromotionBlocked = "PromotionBlocked";

    /// <summary>Event and history: the canary was rolled back.</summary>
    public const string RolledBack = "RolledBack";

    /// <summary>Rollback: failureLimit consecutive failed runs (the reason AnalysisCounters gives).</summary>
    public const string AnalysisFailed = "AnalysisFailed";

    /// <summary>Rollback or pause: inconclusiveLimit consecutive inconclusive runs (the reason AnalysisCounters gives).</summary>
    public const string AnalysisInconclusive = "AnalysisInconclusive";

    /// <summary>Pause, Event and history: the canary served fewer than minRequests for a whole progressDeadline.</summary>
    public const string CanaryNoTraffic = "CanaryNoTraffic";

    /// <summary>Rollback: canary pods could not be scheduled within progressDeadline (often: no free GPU).</summary>
    public const string CanaryUnschedulable = "CanaryUnschedulable";

    /// <summary>Rollback: canary pods crash, cannot pull their image or fetch their model.</summary>
    public const string CanaryFailing = "CanaryFailing";

    /// <summary>A canary pod serves another model than the canary's pinned digest (the integrity check).</summary>
    public const string CanaryModelMismatch = "CanaryModelMismatch";

    /// <summary>Rollback: the canary was not ready within progressDeadline for another reason.</summary>
    public const string CanaryProgressDeadlineExceeded = "CanaryProgressDeadlineExceeded";

    /// <summary>Abort asked for with serving.gru.dev/action=abort.</summary>
    public const string AbortedByUser = "AbortedByUser";

    /// <summary>Event and history: a canary was aborted without blame.</summary>
    public const string Aborted = "Aborted";

    /// <summary>Aborted: spec.model went back to the stable model.</summary>
    public const string ModelReverted = "ModelReverted";

    /// <summary>Aborted: spec.rollout.strategy became Recreate, or replicas 0 (nothing to compare).</summary>
    public const string RolledInPlace = "RolledInPlace";

    /// <summary>Event and history: a newer spec.model replaced the canary.</summary>
    public const string Superseded = "Superseded";

    /// <summary>Superseded: spec.model changed again.</summary>
    public const string ModelChanged = "ModelChanged";

    /// <summary>Paused by spec.rollout.paused.</summary>
    public const string RolloutPaused = "RolloutPaused";

    /// <summary>Resumed because spec.rollout.paused became false.</summary>
    public const string RolloutUnpaused = "RolloutUnpaused";

    /// <summary>Resumed with serving.gru.dev/action=resume.</summary>
    public const string ResumedByUser = "ResumedByUser";

    /// <summary>Retried with serving.gru.dev/action=retry.</summary>
    public const string RetriedByUser = "RetriedByUser";

    /// <summary>Event: a command that does not apply now, and why.</summary>
    public const string CommandIgnored = "CommandIgnored";

    /// <summary>Event per analysis verdict.</summary>
    public const string AnalysisRunPassed = "AnalysisRunPassed";

    /// <summary>Event per analysis verdict (Warning).</summary>
    public const string AnalysisRunFailed = "AnalysisRunFailed";

    /// <summary>Event per analysis verdict.</summary>
    public const string AnalysisRunInconclusive = "AnalysisRunInconclusive";

    /// <summary>Event: a run was inconclusive because stable breached the same SLO in the same window (a shared incident).</summary>
    public const string AnalysisSharedIncident = "AnalysisSharedIncident";
}
