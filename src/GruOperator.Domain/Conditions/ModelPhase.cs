namespace GruOperator.Domain.Conditions;

/// <summary>Where a GruModel is in its lifecycle; derived from conditions, never stored independently of them.</summary>
public enum ModelPhase
{
    /// <summary>Nothing is serving yet (waiting for pods, GPUs or the first rollout).</summary>
    Pending,

    /// <summary>A rollout is under way.</summary>
    Progressing,

    /// <summary>A rollout is held (rollout.paused, or paused on inconclusive analysis).</summary>
    Paused,

    /// <summary>The canary passed and is being promoted.</summary>
    Promoting,

    /// <summary>Serving the stable revision with all replicas ready.</summary>
    Healthy,

    /// <summary>Serving, but with fewer ready replicas than asked for.</summary>
    Degraded,

    /// <summary>The last canary was rolled back.</summary>
    RolledBack,

    /// <summary>The spec cannot be served as written.</summary>
    Failed,
}

/// <summary>Derives the phase from the conditions (Argo: phase follows conditions, not the other way round).</summary>
public static class PhaseRules
{
    /// <summary>Reason used on Ready and Progressing when the spec is refused.</summary>
    public const string InvalidSpecReason = "InvalidSpec";

    /// <summary>
    /// The phase for <paramref name="conditions"/> given how many stable replicas are ready.
    /// InvalidSpec → Failed; ModelVerified=False (a pod serves another model) → Degraded; Progressing=True → Progressing; Ready=True → Healthy; otherwise Pending while nothing is
    /// ready and Degraded once something was.
    /// </summary>
    public static ModelPhase Derive(IReadOnlyList<Condition> conditions, int readyReplicas)
    {
        var ready = ConditionSet.Find(conditions, ConditionTypes.Ready);
        var progressing = ConditionSet.Find(conditions, ConditionTypes.Progressing);
        if (ready?.Reason == InvalidSpecReason) return ModelPhase.Failed;
        // A pod serving the wrong model outranks everything else: the service answers, but not with what was asked for.
        if (ConditionSet.Find(conditions, ConditionTypes.ModelVerified)?.Status == Condition.False) return ModelPhase.Degraded;
        if (progressing?.IsTrue == true) return ModelPhase.Progressing;
        if (ready?.IsTrue == true) return ModelPhase.Healthy;
        return readyReplicas > 0 ? ModelPhase.Degraded : ModelPhase.Pending;
    }
}
