namespace GruOperator.Domain.Scaling;

/// <summary>A recommendation made at <paramref name="Time"/>; it holds until the next one (only changes are kept).</summary>
public sealed record Recommendation(DateTimeOffset Time, int Replicas);

/// <summary>A scale the autoscaler carried out: the rate limits count the moves within their period.</summary>
public sealed record ScaleEvent(DateTimeOffset Time, int From, int To);

/// <summary>A count found not to fit: pods above it could not be scheduled (no free GPU) at <paramref name="Since"/>.</summary>
public sealed record CapacityCeiling(int Replicas, DateTimeOffset Since);

/// <summary>
/// What the autoscaler remembers between reconciles (kept in status, so the decision stays level-triggered): the
/// replica count it last chose, recent recommendations, recent scales and a capacity ceiling.
/// </summary>
public sealed record AutoscalingState(
    int Replicas,
    IReadOnlyList<Recommendation> Recommendations,
    IReadOnlyList<ScaleEvent> Scales,
    CapacityCeiling? Ceiling,
    DateTimeOffset? LastScaleTime)
{
    /// <summary>The state before the first decision: <paramref name="replicas"/> (spec.serving.replicas) clamped into the bounds later.</summary>
    public static AutoscalingState Start(int replicas) => new(replicas, [], [], null, null);
}
