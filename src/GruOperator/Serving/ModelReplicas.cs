using GruOperator.Api;

namespace GruOperator.Serving;

/// <summary>The one place that says how many replicas a model gets in total (stable and canary split it).</summary>
internal static class ModelReplicas
{
    /// <summary>
    /// The autoscaler's count while spec.serving.autoscaling is set (<paramref name="autoscaled"/>, this reconcile's or the
    /// one kept in status), else spec.serving.replicas.
    /// </summary>
    public static int Total(GruModelSpec spec, AutoscalingStatus? autoscaled) =>
        spec.Serving?.Autoscaling is not null && autoscaled is not null ? autoscaled.DesiredReplicas : spec.Serving?.Replicas ?? 1;
}
