namespace GruOperator.Domain.Scaling;

/// <summary>Machine-readable reasons of an autoscaling decision: status.autoscaling.reason and the Event's reason.</summary>
public static class AutoscalingReasons
{
    /// <summary>The count went up (also into minReplicas, or up to maxReplicas when more was wanted).</summary>
    public const string ScaledUp = "ScaledUp";

    /// <summary>The count went down (also down to minReplicas, or into maxReplicas after it was lowered).</summary>
    public const string ScaledDown = "ScaledDown";

    /// <summary>Load is within the tolerance of the target: nothing to do.</summary>
    public const string WithinTolerance = "WithinTolerance";

    /// <summary>No value of the metric: the count holds (never guessed).</summary>
    public const string NoMetric = "NoMetric";

    /// <summary>A lower recommendation waits out the scale-down stabilisation window.</summary>
    public const string ScaleDownStabilizing = "ScaleDownStabilizing";

    /// <summary>A higher recommendation waits out the scale-up stabilisation window.</summary>
    public const string ScaleUpStabilizing = "ScaleUpStabilizing";

    /// <summary>The move was cut by a rate limit (maxPods / maxPercent per period).</summary>
    public const string RateLimited = "RateLimited";

    /// <summary>The count is held at what can run: pods above it were unschedulable (no free GPU).</summary>
    public const string CappedByCapacity = "CappedByCapacity";

    /// <summary>More is wanted but the count is held at maxReplicas.</summary>
    public const string AtMaxReplicas = "AtMaxReplicas";

    /// <summary>Less is wanted but the count is held at minReplicas.</summary>
    public const string AtMinReplicas = "AtMinReplicas";
}
