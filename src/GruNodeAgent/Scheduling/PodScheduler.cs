using System.Net;
using System.Text.Json.Nodes;
using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace GruNodeAgent.Scheduling;

/// <summary>
/// The scheduler of a one-node cluster: binds a Pending pod through pods/binding when <see cref="PodFit"/> says it fits
/// the node's free capacity, or writes PodScheduled=False, reason Unschedulable, with kube-scheduler's message. One pod
/// at a time, counting pods it bound but the informer has not shown yet (kube-scheduler's "assumed" pods).
/// </summary>
internal sealed partial class PodScheduler(IKubernetes client, ResourceCache<V1Pod> pods, NodeView node, TimeSpan retry, TimeProvider time, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, V1Pod> _assumed = new(StringComparer.Ordinal);

    public static bool IsTerminal(V1Pod pod) => pod.Status?.Phase is "Succeeded" or "Failed";

    public async Task<ReconcileResult> ScheduleAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var onNode = pods.List(null, p => p.Spec?.NodeName == node.Name && !IsTerminal(p));
            foreach (var uid in _assumed.Keys.ToList())
            {
                // Once the informer shows the binding (or the pod is gone), the cache counts it.
                if (onNode.Any(p => p.Metadata.Uid == uid) || !pods.List(null, p => p.Metadata.Uid == uid).Any()) _assumed.Remove(uid);
            }

            var fit = PodFit.Check(pod, node, onNode.Concat(_assumed.Values));
            if (!fit.Fits)
            {
                await MarkUnschedulableAsync(pod, fit.Message, cancellationToken).ConfigureAwait(false);
                return ReconcileResult.After(retry);
            }

            try
            {
                using var _ = await client.CoreV1.CreateNamespacedPodBindingWithHttpMessagesAsync(new V1Binding
                {
                    Metadata = new V1ObjectMeta { Name = pod.Metadata.Name, NamespaceProperty = pod.Metadata.NamespaceProperty, Uid = pod.Metadata.Uid },
                    Target = new V1ObjectReference { ApiVersion = "v1", Kind = "Node", Name = node.Name },
                }, pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound)
            {
                // Bound meanwhile (409) or deleted (404): the informer brings the new state.
                return ReconcileResult.Done;
            }

            _assumed[pod.Metadata.Uid] = pod;
            Log.Bound(logger, pod.Metadata.NamespaceProperty, pod.Metadata.Name, node.Name);
            return ReconcileResult.Done;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task MarkUnschedulableAsync(V1Pod pod, string message, CancellationToken cancellationToken)
    {
        var current = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == "PodScheduled");
        if (current is { Status: "False", Reason: "Unschedulable" } && current.Message == message) return;
        Log.Unschedulable(logger, pod.Metadata.NamespaceProperty, pod.Metadata.Name, message);
        var condition = new JsonObject
        {
            ["type"] = "PodScheduled",
            ["status"] = "False",
            ["reason"] = "Unschedulable",
            ["message"] = message,
            ["lastProbeTime"] = null,
            ["lastTransitionTime"] = time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        };
        // Strategic merge: conditions merge by type, so other conditions stay.
        var patch = new JsonObject { ["status"] = new JsonObject { ["conditions"] = new JsonArray(condition) } };
        try
        {
            await client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch),
                pod.Metadata.Name, pod.Metadata.NamespaceProperty, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Deleted meanwhile.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Bound pod {Namespace}/{Name} to node {Node}")]
        public static partial void Bound(ILogger logger, string @namespace, string name, string node);

        [LoggerMessage(2, LogLevel.Information, "Pod {Namespace}/{Name} is unschedulable: {Message}")]
        public static partial void Unschedulable(ILogger logger, string @namespace, string name, string message);
    }
}
