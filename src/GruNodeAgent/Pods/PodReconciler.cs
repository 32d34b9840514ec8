using System.Collections.Concurrent;
using System.Net;
using ControllerRuntime.Controllers;
using ControllerRuntime.Informers;
using GruNodeAgent.Runtime;
using GruNodeAgent.Scheduling;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace GruNodeAgent.Pods;

/// <summary>
/// Level-triggered over one pod key: an unbound pod goes to the scheduler; a pod bound to this node gets a
/// <see cref="PodWorker"/> (started once, told about deletion); a pod that vanished has its worker abandoned.
/// </summary>
internal sealed class PodReconciler(
    ResourceCache<V1Pod> pods,
    PodScheduler scheduler,
    PodRuntimeContext runtime,
    IReadOnlySet<string> schedulerNames) : IReconciler, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, PodWorker> _workers = new(StringComparer.Ordinal);

    /// <summary>The running pods' workers, by namespace/name.</summary>
    public IReadOnlyDictionary<string, PodWorker> Workers => _workers;

    public async Task<ReconcileResult> ReconcileAsync(ReconcileRequest request, CancellationToken cancellationToken)
    {
        var key = request.ToString();
        var pod = pods.Get(request.Namespace, request.Name);
        _workers.TryGetValue(key, out var worker);
        if (worker is not null && (pod is null || pod.Metadata.Uid != worker.Uid))
        {
            // Gone from the API (force-deleted, or replaced by a new pod of the same name): stop at once.
            worker.Abandon();
            _workers.TryRemove(key, out _);
            _ = worker.DisposeAsync().AsTask();
            worker = null;
        }

        if (pod is null) return ReconcileResult.Done;
        var nodeName = pod.Spec?.NodeName;
        if (string.IsNullOrEmpty(nodeName))
        {
            if (pod.Metadata.DeletionTimestamp is not null || PodScheduler.IsTerminal(pod) || !schedulerNames.Contains(pod.Spec?.SchedulerName ?? "default-scheduler"))
            {
                return ReconcileResult.Done;
            }

            return await scheduler.ScheduleAsync(pod, cancellationToken).ConfigureAwait(false);
        }

        if (nodeName != runtime.Options.NodeName) return ReconcileResult.Done;
        if (worker is null)
        {
            if (PodScheduler.IsTerminal(pod))
            {
                // Finished before this agent (re)started: nothing runs; a deletion only needs the final delete.
                if (pod.Metadata.DeletionTimestamp is not null) await DeleteNowAsync(pod, cancellationToken).ConfigureAwait(false);
                return ReconcileResult.Done;
            }

            worker = new PodWorker(pod, runtime);
            _workers[key] = worker;
            worker.Start();
        }

        worker.Update(pod);
        return ReconcileResult.Done;
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_workers.Values.Select(w => w.DisposeAsync().AsTask())).ConfigureAwait(false);
        _workers.Clear();
    }

    private async Task DeleteNowAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        try
        {
            await runtime.Client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty,
                new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid } },
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
        }
    }
}
