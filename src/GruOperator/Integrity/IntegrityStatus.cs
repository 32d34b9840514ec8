using GruOperator.Api;
using GruOperator.Domain.Conditions;
using GruOperator.ModelResolution;

namespace GruOperator.Integrity;

/// <summary>
/// Folds the pin (ModelResolved, status.resolvedModel) and the last integrity check (ModelVerified, status.servedModels)
/// into the status the reconciler writes: one place, so the reconciler needs only a few calls.
/// </summary>
internal static class IntegrityStatus
{
    /// <summary><paramref name="current"/> with ModelResolved set from <paramref name="pin"/> (removed for non-oci sources) and ModelVerified from a check that ran.</summary>
    public static IReadOnlyList<Condition> Conditions(IReadOnlyList<Condition>? current, ModelPin pin, VerificationOutcome? verification, long generation, DateTimeOffset now)
    {
        IReadOnlyList<Condition> conditions = pin.IsOci
            ? ConditionSet.Set(current, Resolved(pin, generation, now))
            : (current ?? []).Where(c => c.Type != ConditionTypes.ModelResolved).ToList();
        if (verification?.Report is { } report)
        {
            var next = report.Condition(generation, now);
            // A mismatch is cleared only by a check that verifies every ready pod: when Rollback has deleted the offending
            // pod, "nothing to check yet" must not hide that a wrong model was served.
            var sticky = next.Status == Condition.Unknown && ConditionSet.Find(conditions, ConditionTypes.ModelVerified)?.Status == Condition.False;
            if (!sticky) conditions = ConditionSet.Set(conditions, next);
        }
        // Between checks the last verdict stands for the current generation too (every condition carries it).
        if (ConditionSet.Find(conditions, ConditionTypes.ModelVerified) is { } verified && verified.ObservedGeneration != generation)
        {
            conditions = ConditionSet.Set(conditions, verified with { ObservedGeneration = generation });
        }
        return conditions;
    }

    /// <summary>Sets status.resolvedModel and status.servedModels; a pod serving the wrong model becomes the status message.</summary>
    public static GruModelStatus Apply(GruModelStatus status, ModelPin pin, VerificationOutcome? verification, LayerDigestIndex layers, GruModelStatus? previous)
    {
        status.ResolvedModel = pin.Resolved;
        if (pin.Resolved is { LayerDigest: null } resolved && layers.Known(resolved.Reference) is { } layer) resolved.LayerDigest = layer;
        status.ServedModels = verification?.Report is { } report
            ? new ServedModelsStatus
            {
                Verified = report.Verified.Count(),
                Mismatched = report.Mismatched.Count(),
                Unverified = report.Unverified.Count(),
                LastCheck = report.CheckedAt,
            }
            : previous?.ServedModels;
        if (ConditionSet.Find(status.Conditions, ConditionTypes.ModelVerified) is { Status: Condition.False } mismatch) status.Message = mismatch.Message;
        return status;
    }

    /// <summary>
    /// The status when nothing could be pinned: ModelResolved=False with the registry's or the Secret's error; everything
    /// else (and everything deployed) stays as it was, so what serves keeps serving.
    /// </summary>
    public static GruModelStatus Unpinned(GruModel model, ModelPin pin, long generation, DateTimeOffset now)
    {
        var previous = model.Status;
        var conditions = ConditionSet.Set(previous?.Conditions, Resolved(pin, generation, now));
        return new GruModelStatus
        {
            ObservedGeneration = generation,
            Phase = PhaseRules.Derive(conditions, previous?.Stable?.ReadyReplicas ?? 0),
            Message = pin.Failure!.Message,
            Conditions = [.. conditions],
            Ready = previous?.Ready,
            Replicas = previous?.Replicas,
            Selector = previous?.Selector,
            Stable = previous?.Stable,
            Canary = previous?.Canary,
            RolledBack = previous?.RolledBack,
            ResolvedModel = previous?.ResolvedModel,
            ServedModels = previous?.ServedModels,
            History = previous?.History,
            Autoscaling = previous?.Autoscaling,
        };
    }

    private static Condition Resolved(ModelPin pin, long generation, DateTimeOffset now)
    {
        var status = pin.Failure is not null ? Condition.False
            : pin.Reason == ModelResolutionReasons.TagCheckFailed ? Condition.Unknown
            : Condition.True;
        return new Condition(ConditionTypes.ModelResolved, status, pin.Reason!, pin.Message ?? "", generation, now);
    }
}
