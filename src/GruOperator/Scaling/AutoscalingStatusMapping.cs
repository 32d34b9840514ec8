using GruOperator.Api;
using GruOperator.Domain.Scaling;

namespace GruOperator.Scaling;

/// <summary>status.autoscaling ↔ <see cref="AutoscalingState"/>: the autoscaler's memory lives in status, nowhere else.</summary>
internal static class AutoscalingStatusMapping
{
    /// <summary>The state a previous decision left in status.</summary>
    public static AutoscalingState ToState(AutoscalingStatus status) => new(
        status.DesiredReplicas,
        (status.Recommendations ?? []).Select(r => new Recommendation(r.Time, r.Replicas)).ToList(),
        (status.Scales ?? []).Select(s => new ScaleEvent(s.Time, s.From, s.To)).ToList(),
        status.Capacity is { } c ? new CapacityCeiling(c.Replicas, c.Since) : null,
        status.LastScaleTime);

    /// <summary>The status of a decision, with the reading behind it.</summary>
    public static AutoscalingStatus ToStatus(AutoscalingDecision decision, AutoscalingPolicy policy, string target, LoadReading reading, int unschedulable) => new()
    {
        DesiredReplicas = decision.Replicas,
        CurrentReplicas = decision.From,
        RecommendedReplicas = decision.Recommended,
        Metric = Autoscaler.Name(policy.Metric),
        CurrentValue = reading.PerPod is { } value ? Autoscaler.Format(policy.Metric, value) : null,
        Target = target,
        Pods = reading.Pods,
        UnschedulableReplicas = unschedulable,
        LastScaleTime = decision.State.LastScaleTime,
        Reason = decision.Reason,
        // Why there was no value is part of the reasoning: a missing series and an unreachable Prometheus need different fixes.
        Message = reading.PerPod is null && reading.Problem is { } problem ? $"{decision.Message} {problem}" : decision.Message,
        Recommendations = decision.State.Recommendations.Count == 0 ? null
            : decision.State.Recommendations.Select(r => new ScalingRecommendationStatus { Time = r.Time, Replicas = r.Replicas }).ToList(),
        Scales = decision.State.Scales.Count == 0 ? null
            : decision.State.Scales.Select(s => new ScaleRecordStatus { Time = s.Time, From = s.From, To = s.To }).ToList(),
        Capacity = decision.State.Ceiling is { } c ? new CapacityCeilingStatus { Replicas = c.Replicas, Since = c.Since } : null,
    };
}
