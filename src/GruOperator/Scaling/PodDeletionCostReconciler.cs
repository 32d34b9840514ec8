using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using GruOperator.Api;
using GruOperator.Serving;
using GruServing.Contract.Serving;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruOperator.Scaling;

/// <summary>
/// Keeps each serving pod of a Stateful GruModel annotated with its pod-deletion-cost (<see cref="PodDeletionCost"/>):
/// every <see cref="Period"/> it reads each running pod's live sequence count from its metrics endpoint and patches the
/// annotation only when the count changed. Its own controller beside the GruModel one, so serving never waits on it;
/// Stateless models hold no sequences and are not asked.
/// </summary>
internal sealed partial class PodDeletionCostReconciler(
    ResourceCache<GruModel> models, ResourceCache<V1Pod> pods, SessionCountProbe probe, IKubernetes client, ILogger<PodDeletionCostReconciler> logger)
    : IReconciler
{
    public const string ControllerName = "grumodel-pod-deletion-cost";

    /// <summary>How often the counts are read: scale-downs are rare, a few seconds stale is fine, and it costs one small GET per pod.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var model = models.Get(request.Namespace, request.Name);
        if (model is null || model.Metadata.DeletionTimestamp is not null || model.Spec.Serving?.Sessions?.Mode != SessionMode.Stateful) return ReconcileResult.Done;

        var running = pods.List(request.Namespace, pod =>
            pod.Metadata.Labels is { } labels && labels.TryGetValue(Labels.Model, out var name) && name == request.Name
            && pod.Metadata.DeletionTimestamp is null && pod.Status?.Phase == "Running" && !string.IsNullOrEmpty(pod.Status.PodIP));
        await Task.WhenAll(running.Select(pod => UpdateAsync(pod, cancellationToken))).ConfigureAwait(false);
        return ReconcileResult.After(Period);
    }

    private async Task UpdateAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        if (await probe.CountAsync(pod.Status.PodIP, ServingWorkloadBuilder.MetricsPort, cancellationToken).ConfigureAwait(false) is not { } sessions) return;
        var current = pod.Metadata.Annotations is { } annotations && annotations.TryGetValue(PodDeletionCost.Annotation, out var value) ? value : null;
        if (PodDeletionCost.Change(current, sessions) is not { } cost) return;
        var patch = new V1Patch(new { metadata = new { annotations = new Dictionary<string, string> { [PodDeletionCost.Annotation] = cost } } }, V1Patch.PatchType.MergePatch);
        try
        {
            await client.CoreV1.PatchNamespacedPodAsync(patch, pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: cancellationToken).ConfigureAwait(false);
            Log.CostSet(logger, pod.Metadata.NamespaceProperty, pod.Metadata.Name, cost);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Deleted meanwhile: nothing to rank any more.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Pod {Namespace}/{Pod}: pod-deletion-cost {Cost} (live sequences)")]
        public static partial void CostSet(ILogger logger, string @namespace, string pod, string cost);
    }
}
