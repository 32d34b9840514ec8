using GruOperator.Api;
using GruOperator.Rollout;
using GruOperator.Serving;

namespace GruOperator.Scaling;

/// <summary>
/// The model's replica count as the /scale subresource shows it: what the rollout splits between the tracks, how many
/// pods run, and the selector an HPA counts them with. One place, so a load-driven count can replace the spec's later
/// without the rollout or the status knowing where it came from.
/// </summary>
internal static class ServingReplicas
{
    /// <summary>
    /// Replicas of the whole model (both tracks together, split by the canary's weight): the autoscaler's count while
    /// spec.serving.autoscaling is set (<paramref name="autoscaled"/>, this reconcile's or the one kept in status), else
    /// spec.serving.replicas, which kubectl scale, an HPA or KEDA write through /scale.
    /// </summary>
    public static int Effective(GruModelSpec spec, AutoscalingStatus? autoscaled)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Serving?.Autoscaling is not null && autoscaled is not null ? autoscaled.DesiredReplicas : spec.Serving?.Replicas ?? 1;
    }

    /// <summary>Pods of the model in all tracks (status.replicas): what the Deployments' own status counts.</summary>
    public static int Running(RolloutObservation observed)
    {
        ArgumentNullException.ThrowIfNull(observed);
        return (observed.Stable?.Deployment.Status?.Replicas ?? 0) + (observed.Canary?.Deployment.Status?.Replicas ?? 0);
    }

    /// <summary>The label selector of the model's serving pods, both tracks (status.selector, in kubectl's string form).</summary>
    public static string Selector(string model) => $"{Labels.Model}={model}";
}
