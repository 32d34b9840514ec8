using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;

namespace GruOperator.Integrity;

/// <summary>How one ready pod's served model compared with the digest pinned for its track and revision.</summary>
internal enum PodVerdict
{
    /// <summary>It reported the pinned digest.</summary>
    Verified,

    /// <summary>It reported another digest.</summary>
    Mismatched,

    /// <summary>It did not say (no answer, an error, no digest), or the pinned digest is not known: never counted as verified.</summary>
    Unverified,
}

/// <summary>One pod's check: what it should serve, what it said, and why it landed in its verdict.</summary>
/// <param name="Pod">Pod name.</param>
/// <param name="Uid">Pod uid (a delete is preconditioned on it, so a replacement of the same name is never hit).</param>
/// <param name="Track">stable or canary.</param>
/// <param name="Expected">"sha256:&lt;hex&gt;" the pod must serve, or null when unknown.</param>
/// <param name="Served">"sha256:&lt;hex&gt;" the pod reported, or null.</param>
/// <param name="Verdict">The outcome.</param>
/// <param name="Detail">For Unverified: why (e.g. "no answer: connection refused").</param>
internal sealed record PodCheck(string Pod, string? Uid, string Track, string? Expected, string? Served, PodVerdict Verdict, string? Detail = null)
{
    /// <summary>Classifies a pod from its expected digest and its answer (a digest, or the failure to get one).</summary>
    /// <example>("sha256:ab", "sha256:ab") → Verified; ("sha256:ab", "sha256:cd") → Mismatched; (null, "sha256:ab") → Unverified.</example>
    public static PodCheck Of(string pod, string? uid, string track, string? expected, string? expectedUnknownReason, string? served, string? probeError)
    {
        if (served is null) return new(pod, uid, track, expected, null, PodVerdict.Unverified, probeError ?? "no digest reported");
        if (expected is null) return new(pod, uid, track, null, served, PodVerdict.Unverified, expectedUnknownReason ?? "the pinned digest is not known");
        return string.Equals(expected, served, StringComparison.Ordinal)
            ? new(pod, uid, track, expected, served, PodVerdict.Verified)
            : new(pod, uid, track, expected, served, PodVerdict.Mismatched);
    }

    /// <summary>How messages name the pod and its outcome.</summary>
    public string Describe() => Verdict switch
    {
        PodVerdict.Mismatched => $"{Pod} ({Track}) serves {Short(Served)}, pinned {Short(Expected)}",
        PodVerdict.Unverified => $"{Pod} ({Track}): {Detail}",
        _ => $"{Pod} ({Track}) serves {Short(Served)}",
    };

    private static string Short(string? digest) => digest is { Length: > 19 } d ? d[..19] : digest ?? "?";
}

/// <summary>The result of one integrity check over every ready pod of a model.</summary>
internal sealed record ServedModelReport(IReadOnlyList<PodCheck> Pods, DateTimeOffset CheckedAt)
{
    public IEnumerable<PodCheck> Verified => Pods.Where(p => p.Verdict == PodVerdict.Verified);

    public IEnumerable<PodCheck> Mismatched => Pods.Where(p => p.Verdict == PodVerdict.Mismatched);

    public IEnumerable<PodCheck> Unverified => Pods.Where(p => p.Verdict == PodVerdict.Unverified);

    /// <summary>The ModelVerified condition: False names the mismatched pods, Unknown the unverified ones, True counts the verified.</summary>
    public Condition Condition(long generation, DateTimeOffset now)
    {
        var mismatched = Mismatched.ToList();
        var unverified = Unverified.ToList();
        if (mismatched.Count > 0)
        {
            return new(ConditionTypes.ModelVerified, Domain.Conditions.Condition.False, IntegrityReasons.DigestMismatch,
                $"{mismatched.Count} pod(s) serve another model: {Join(mismatched)}.", generation, now);
        }
        if (unverified.Count > 0)
        {
            return new(ConditionTypes.ModelVerified, Domain.Conditions.Condition.Unknown, IntegrityReasons.PodsUnverified,
                $"{unverified.Count} pod(s) unverified: {Join(unverified)}; {Verified.Count()} verified.", generation, now);
        }
        if (Pods.Count == 0)
        {
            return new(ConditionTypes.ModelVerified, Domain.Conditions.Condition.Unknown, IntegrityReasons.NoReadyPods,
                "No ready pod to check yet.", generation, now);
        }
        return new(ConditionTypes.ModelVerified, Domain.Conditions.Condition.True, IntegrityReasons.DigestsMatch,
            $"All {Pods.Count} ready pod(s) serve their pinned digest.", generation, now);
    }

    /// <summary>
    /// The promotion gate for the canary track: open only when it has ready pods and every one of them is verified; a
    /// mismatched or unverified canary pod keeps it closed, naming the pods.
    /// </summary>
    public PromotionGate CanaryGate()
    {
        var canary = Pods.Where(p => p.Track == GruServing.Contract.Serving.Tracks.CanaryLabel).ToList();
        if (canary.Count == 0) return new PromotionGate(false, "no ready canary pod has been verified yet");
        var bad = canary.Where(p => p.Verdict != PodVerdict.Verified).ToList();
        var mismatched = canary.Where(p => p.Verdict == PodVerdict.Mismatched).ToList();
        if (mismatched.Count > 0) return new PromotionGate(false, $"{mismatched.Count} of {canary.Count} canary pod(s) serve another model: {Join(mismatched)}", Mismatched: true);
        return bad.Count == 0
            ? new PromotionGate(true, $"all {canary.Count} canary pod(s) serve the pinned digest")
            : new PromotionGate(false, $"{bad.Count} of {canary.Count} canary pod(s) not verified: {Join(bad)}");
    }

    private static string Join(IEnumerable<PodCheck> pods)
    {
        var list = pods.ToList();
        var shown = string.Join("; ", list.Take(5).Select(p => p.Describe()));
        return list.Count > 5 ? $"{shown}; and {list.Count - 5} more" : shown;
    }
}

/// <summary>Reasons of the ModelVerified condition and the integrity Events (docs/API.md lists them).</summary>
internal static class IntegrityReasons
{
    /// <summary>True: every ready pod reported its pinned digest.</summary>
    public const string DigestsMatch = "DigestsMatch";

    /// <summary>False (and a Warning Event): at least one pod serves another digest.</summary>
    public const string DigestMismatch = "DigestMismatch";

    /// <summary>Unknown: some pods did not answer or the pinned digest is unknown; none mismatched.</summary>
    public const string PodsUnverified = "PodsUnverified";

    /// <summary>Unknown: nothing to check yet.</summary>
    public const string NoReadyPods = "NoReadyPods";

    /// <summary>Event: integrity.onMismatch Rollback deleted a pod serving another digest so it restarts from the pin.</summary>
    public const string MismatchedPodDeleted = "MismatchedPodDeleted";
}
