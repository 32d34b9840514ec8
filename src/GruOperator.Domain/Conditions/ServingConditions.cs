namespace GruOperator.Domain.Conditions;

/// <summary>What the operator saw of one track's workload (its Deployment and pods).</summary>
public sealed record TrackObservation(
    int DesiredReplicas,
    int ReadyReplicas,
    int UpdatedReplicas,
    bool TemplateObserved,
    int UnschedulablePods,
    string? UnschedulableMessage,
    string Revision,
    int FailingPods = 0,
    string? FailingMessage = null,
    string? StalledMessage = null,
    string? ReplicaFailureMessage = null);

/// <summary>The conditions, phase and message for a GruModel.</summary>
public sealed record ServingAssessment(IReadOnlyList<Condition> Conditions, ModelPhase Phase, string Message);

/// <summary>Turns observations of the stable workload (or a refusal of the spec) into Ready/Progressing conditions.</summary>
public static class ServingConditions
{
    /// <summary>Ready=True: all desired replicas are ready.</summary>
    public const string StableServing = "StableServing";

    /// <summary>Ready=False: pods are starting or loading the model.</summary>
    public const string ReplicasNotReady = "ReplicasNotReady";

    /// <summary>Ready=False: the ReplicaSet cannot create pods at all (RuntimeClass not found, quota, admission).</summary>
    public const string ReplicaFailure = "ReplicaFailure";

    /// <summary>Ready=False: the scheduler cannot place pods (often: no free GPU).</summary>
    public const string Unschedulable = "Unschedulable";

    /// <summary>Ready=False: pods crash, cannot pull their image, or their model fetch failed.</summary>
    public const string PodsFailing = "PodsFailing";

    /// <summary>Ready=False and Progressing=False: the Deployment gave up waiting for its rollout (progressDeadlineSeconds).</summary>
    public const string ProgressDeadlineExceeded = "ProgressDeadlineExceeded";

    /// <summary>Progressing=True: a new pod template is rolling out.</summary>
    public const string RollingOut = "RollingOut";

    /// <summary>Progressing=False: the rollout finished.</summary>
    public const string RolloutComplete = "RolloutComplete";

    /// <summary>
    /// Assesses the stable track. Examples (desired/ready/updated): 3/3/3 → Ready=True StableServing, Progressing=False,
    /// Healthy; 3/1/3 on its way up → Progressing=True RollingOut, Progressing; the same after this generation was once
    /// complete → Ready=False ReplicasNotReady, Progressing=False, Degraded; 3/1/3 with 2 unschedulable → Ready=False Unschedulable naming the scheduler's message, Progressing=False,
    /// Degraded; 3/0/1 → Ready=False ReplicasNotReady, Progressing=True RollingOut, Progressing; 2/0/0 with the
    /// ReplicaSet refused by a quota → Ready=False and Progressing=False ReplicaFailure quoting the API server, Pending. Pods that cannot be created come
    /// first: no pod exists to be unschedulable or failing, and waiting will not fix it.
    /// </summary>
    public static ServingAssessment Assess(IReadOnlyList<Condition>? current, TrackObservation track, long generation, DateTimeOffset now)
    {
        // As Argo CD and the Deployment controller judge it: a revision is rolled out once all its replicas were ready. Until
        // then (a first deploy at 1 of 3 ready, a scale-up) it is Progressing; only a revision that was complete and lost
        // replicas is Degraded. Pods that cannot be scheduled or keep failing are not progress, and say so in Ready.
        var wasComplete = ConditionSet.Find(current, ConditionTypes.Progressing) is { Status: Condition.False, Reason: RolloutComplete } done
            && done.ObservedGeneration == generation;
        var comingUp = track.ReadyReplicas < track.DesiredReplicas && !wasComplete && track.UnschedulablePods == 0 && track.FailingPods == 0;
        var rolling = !track.TemplateObserved || track.UpdatedReplicas < track.DesiredReplicas || comingUp;
        var ready = track.ReadyReplicas >= track.DesiredReplicas && !rolling;
        var counts = $"{track.ReadyReplicas}/{track.DesiredReplicas} replicas ready";

        Condition readyCondition;
        if (ready)
        {
            readyCondition = new(ConditionTypes.Ready, Condition.True, StableServing, $"Revision {track.Revision} is serving: {counts}.", generation, now);
        }
        else if (track.ReplicaFailureMessage is not null)
        {
            readyCondition = new(ConditionTypes.Ready, Condition.False, ReplicaFailure,
                $"Pods of revision {track.Revision} cannot be created: {track.ReplicaFailureMessage} ({counts}).", generation, now);
        }
        else if (track.UnschedulablePods > 0)
        {
            readyCondition = new(ConditionTypes.Ready, Condition.False, Unschedulable,
                $"{track.UnschedulablePods} pod(s) cannot be scheduled: {track.UnschedulableMessage ?? "no reason given"} ({counts}).", generation, now);
        }
        else if (track.FailingPods > 0)
        {
            readyCondition = new(ConditionTypes.Ready, Condition.False, PodsFailing,
                $"{track.FailingPods} pod(s) failing: {track.FailingMessage ?? "no reason given"} ({counts}).", generation, now);
        }
        else if (track.StalledMessage is not null)
        {
            readyCondition = new(ConditionTypes.Ready, Condition.False, ProgressDeadlineExceeded,
                $"Revision {track.Revision} stopped progressing: {track.StalledMessage} ({counts}).", generation, now);
        }
        else
        {
            readyCondition = new(ConditionTypes.Ready, Condition.False, ReplicasNotReady, $"Waiting for revision {track.Revision}: {counts}.", generation, now);
        }

        var progressing = track.StalledMessage is not null
            ? new Condition(ConditionTypes.Progressing, Condition.False, ProgressDeadlineExceeded,
                $"Revision {track.Revision} stopped progressing: {track.StalledMessage}", generation, now)
            : track.ReplicaFailureMessage is not null
            // Blocked until someone acts (quota, RuntimeClass, admission policy): not progressing, whatever the counts.
            ? new Condition(ConditionTypes.Progressing, Condition.False, ReplicaFailure,
                $"Revision {track.Revision} is blocked: pods cannot be created: {track.ReplicaFailureMessage}", generation, now)
            : rolling
            ? new Condition(ConditionTypes.Progressing, Condition.True, RollingOut,
                $"Rolling out revision {track.Revision}: {track.UpdatedReplicas}/{track.DesiredReplicas} replicas updated, {track.ReadyReplicas} ready.", generation, now)
            : new Condition(ConditionTypes.Progressing, Condition.False, RolloutComplete,
                $"Revision {track.Revision} is rolled out.", generation, now);

        var conditions = ConditionSet.Set(ConditionSet.Set(current, readyCondition), progressing);
        var phase = PhaseRules.Derive(conditions, track.ReadyReplicas);
        return new ServingAssessment(conditions, phase, readyCondition.IsTrue ? progressing.Message : readyCondition.Message);
    }

    /// <summary>The spec was refused: Ready=False and Progressing=False with reason InvalidSpec, phase Failed.</summary>
    public static ServingAssessment Refuse(IReadOnlyList<Condition>? current, string message, long generation, DateTimeOffset now)
    {
        var conditions = ConditionSet.Set(
            ConditionSet.Set(current, new Condition(ConditionTypes.Ready, Condition.False, PhaseRules.InvalidSpecReason, message, generation, now)),
            new Condition(ConditionTypes.Progressing, Condition.False, PhaseRules.InvalidSpecReason, "Nothing is rolled out from an invalid spec.", generation, now));
        return new ServingAssessment(conditions, ModelPhase.Failed, message);
    }
}
