using k8s;
using k8s.Autorest;
using k8s.Models;

namespace TestSupport.ControlPlane;

/// <summary>
/// Plays scheduler and kubelet for tests, through the API: writes the Pod status a node would report with a merge
/// patch on the <c>pods/status</c> subresource, so it works the same on a real kube-apiserver (which has no kubelet
/// here) and on LocalCluster. Pods are never bound to a node, so the real server deletes them at once, as it does
/// unscheduled pods.
/// </summary>
public sealed class PodStatusWriter(IKubernetes client)
{
    /// <summary>Reports the Pod Running with every container started and ready.</summary>
    public Task MarkReadyAsync(string @namespace, string name, CancellationToken cancellationToken = default) =>
        RunningAsync(@namespace, name, ready: true, cancellationToken);

    /// <summary>Reports the Pod Running and ready at <paramref name="podIp"/> (e.g. a 127.0.0.N address where a test runs
    /// the pod's server as a local process, so the operator reaches it through the pod IP).</summary>
    public Task MarkReadyAtAsync(string @namespace, string name, string podIp, CancellationToken cancellationToken = default) =>
        RunningAsync(@namespace, name, ready: true, cancellationToken, podIp);

    /// <summary>Reports the Pod Running with containers started but not ready (its readiness probe failing).</summary>
    public Task MarkRunningNotReadyAsync(string @namespace, string name, CancellationToken cancellationToken = default) =>
        RunningAsync(@namespace, name, ready: false, cancellationToken);

    /// <summary>Reports the Pod Pending with PodScheduled=False, reason Unschedulable and the scheduler's message.</summary>
    public Task MarkUnschedulableAsync(string @namespace, string name, string message, CancellationToken cancellationToken = default) =>
        PatchAsync(@namespace, name, _ => new
        {
            phase = "Pending",
            conditions = new[] { Condition("PodScheduled", "False", "Unschedulable", message) },
        }, cancellationToken);

    /// <summary>Reports the Pod Failed: every container terminated with exit code 1, the Pod with <paramref name="reason"/>.</summary>
    public Task MarkFailedAsync(string @namespace, string name, string reason, CancellationToken cancellationToken = default) =>
        PatchAsync(@namespace, name, pod => new
        {
            phase = "Failed",
            reason,
            conditions = new[]
            {
                Condition("PodScheduled", "True"),
                Condition("Ready", "False", "PodFailed"),
                Condition("ContainersReady", "False", "PodFailed"),
            },
            containerStatuses = ContainerStatuses(pod, ready: false, terminated: true),
        }, cancellationToken);

    /// <summary>Marks every Pod of the namespace Ready that is not yet, until cancelled (as LocalCluster's auto-ready pods).</summary>
    public async Task MarkAllReadyAsync(string @namespace, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var pods = await client.CoreV1.ListNamespacedPodAsync(@namespace, cancellationToken: cancellationToken);
                foreach (var pod in pods.Items.Where(p => p.Metadata.DeletionTimestamp is null && p.Status?.Phase is null or "Pending" && !IsUnschedulable(p)))
                {
                    await MarkReadyAsync(@namespace, pod.Metadata.Name, cancellationToken);
                }
            }
            catch (HttpOperationException)
            {
                // deleted while we looked (404), changed under us (409), or the server busy: the next round tries again
            }
            catch (HttpRequestException)
            {
                // the API server restarting (watch-recovery tests): try again
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(100, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static bool IsUnschedulable(V1Pod pod) =>
        pod.Status?.Conditions?.Any(c => c.Type == "PodScheduled" && c.Status == "False") == true;

    private Task RunningAsync(string ns, string name, bool ready, CancellationToken cancellationToken, string? podIp = null)
    {
        var readyText = ready ? "True" : "False";
        return PatchAsync(ns, name, pod =>
        {
            var names = string.Join(" ", pod.Spec.Containers.Select(c => c.Name));
            var (reason, message) = ready ? (null, null) : ("ContainersNotReady", $"containers with unready status: [{names}]");
            var ip = podIp ?? PodIp(pod);
            return new
            {
                phase = "Running",
                conditions = new[]
                {
                    Condition("Initialized", "True"),
                    Condition("Ready", readyText, reason, message),
                    Condition("ContainersReady", readyText, reason, message),
                    Condition("PodScheduled", "True"),
                },
                hostIP = "127.0.0.1",
                podIP = ip,
                podIPs = new[] { new { ip } },
                startTime = pod.Status?.StartTime ?? DateTime.UtcNow,
                containerStatuses = ContainerStatuses(pod, ready, terminated: false),
            };
        }, cancellationToken);
    }

    private async Task PatchAsync(string ns, string name, Func<V1Pod, object> status, CancellationToken cancellationToken)
    {
        var pod = await client.CoreV1.ReadNamespacedPodAsync(name, ns, cancellationToken: cancellationToken);
        var patch = new V1Patch(KubernetesJson.Serialize(new { status = status(pod) }), V1Patch.PatchType.MergePatch);
        await client.CoreV1.PatchNamespacedPodStatusAsync(patch, name, ns, fieldManager: "test-kubelet", cancellationToken: cancellationToken);
    }

    // A stable address per pod (from its uid), so a second status write does not move it.
    private static string PodIp(V1Pod pod)
    {
        var hash = (uint)StringComparer.Ordinal.GetHashCode(pod.Metadata.Uid ?? pod.Metadata.Name);
        return pod.Status?.PodIP ?? $"10.244.{(hash >> 8) % 250}.{(hash % 250) + 1}";
    }

    private static object Condition(string type, string status, string? reason = null, string? message = null) =>
        new { type, status, reason, message, lastTransitionTime = DateTime.UtcNow };

    private static object[] ContainerStatuses(V1Pod pod, bool ready, bool terminated) =>
        pod.Spec.Containers.Select(c => (object)new
        {
            name = c.Name,
            image = c.Image,
            imageID = "",
            containerID = $"containerd://{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(pod.Metadata.Uid + c.Name))).ToLowerInvariant()}",
            ready,
            started = !terminated,
            restartCount = 0,
            state = terminated
                ? (object)new { terminated = new { exitCode = 1, reason = "Error", finishedAt = DateTime.UtcNow } }
                : new { running = new { startedAt = DateTime.UtcNow } },
        }).ToArray();
}
