using ControllerRuntime.Events;
using ControllerRuntime.Finalizers;
using GruOperator.Api;
using GruOperator.Serving;
using k8s;
using k8s.Autorest;
using System.Net;

namespace GruOperator.Reconciliation;

/// <summary>
/// Deletes a GruModel's Deployments and Services before the GruModel goes. ownerReferences would let the garbage
/// collector do it eventually; the finalizer makes removal deterministic and observable (an Event, and the GruModel
/// lingering while cleanup fails).
/// </summary>
internal sealed class WorkloadFinalizer(IKubernetes client, EventRecorder events) : IFinalizer<GruModel>
{
    public const string Name = "serving.gru.dev/cleanup";

    public async Task FinalizeAsync(GruModel item, CancellationToken cancellationToken)
    {
        var ns = item.Metadata.NamespaceProperty;
        var selector = $"{Labels.Model}={item.Metadata.Name}";
        var deployments = await client.AppsV1.ListNamespacedDeploymentAsync(ns, labelSelector: selector, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var deployment in deployments.Items.Where(d => OwnedBy(d.Metadata, item)))
        {
            await IgnoreNotFound(client.AppsV1.DeleteNamespacedDeploymentAsync(deployment.Metadata.Name, ns, propagationPolicy: "Background", cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        var services = await client.CoreV1.ListNamespacedServiceAsync(ns, labelSelector: selector, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var service in services.Items.Where(s => OwnedBy(s.Metadata, item)))
        {
            await IgnoreNotFound(client.CoreV1.DeleteNamespacedServiceAsync(service.Metadata.Name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }
        await events.RecordAsync(item, EventType.Normal, "CleanedUp",
            $"Deleted {deployments.Items.Count} Deployment(s) and {services.Items.Count} Service(s).", cancellationToken).ConfigureAwait(false);
    }

    private static bool OwnedBy(k8s.Models.V1ObjectMeta meta, GruModel model) =>
        meta.OwnerReferences?.Any(o => o.Uid == model.Metadata.Uid) ?? false;

    private static async Task IgnoreNotFound<T>(Task<T> delete)
    {
        try
        {
            await delete.ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }
}
