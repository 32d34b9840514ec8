using ControllerRuntime.Informers;
using ControllerRuntime.Resources;
using GruOperator.Api;
using k8s;
using k8s.Models;

namespace GruOperator.Hosting;

/// <summary>List/watch sources for the kinds the operator follows, in one namespace or all (null).</summary>
internal static class WatchSources
{
    public static IListWatcher<GruModel> GruModels(IKubernetes client, string? ns, CustomResourceType type) =>
        new KubernetesListWatcher<GruModel, GruModelList>(ns, (r, ct) => ns is null
            ? client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync<GruModelList>(
                type.Group, type.Version, type.Plural, allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue,
                limit: r.Limit, resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct)
            : client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<GruModelList>(
                type.Group, type.Version, ns, type.Plural, allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue,
                limit: r.Limit, resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct),
            notServedHint: "install the GruModel CRD: kubectl apply -f config/crds (or kubectl apply -k config/default)");

    /// <summary>Deployments carrying <paramref name="label"/>: the operator never caches workloads it does not own.</summary>
    public static IListWatcher<V1Deployment> Deployments(IKubernetes client, string? ns, string label) =>
        new KubernetesListWatcher<V1Deployment, V1DeploymentList>(ns, (r, ct) => ns is null
            ? client.AppsV1.ListDeploymentForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct)
            : client.AppsV1.ListNamespacedDeploymentWithHttpMessagesAsync(
                ns, allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct));

    public static IListWatcher<V1Service> Services(IKubernetes client, string? ns, string label) =>
        new KubernetesListWatcher<V1Service, V1ServiceList>(ns, (r, ct) => ns is null
            ? client.CoreV1.ListServiceForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct)
            : client.CoreV1.ListNamespacedServiceWithHttpMessagesAsync(
                ns, allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct));

    /// <summary>
    /// Clears the pod spec before caching: the reconciler reads pods' labels and status only (PodDiagnosis), and with
    /// thousands of serving pods their specs (args, probes, volumes, security settings) are most of the cache.
    /// </summary>
    public static void DropPodSpec(V1Pod pod) => pod.Spec = null!;

    public static IListWatcher<V1Pod> Pods(IKubernetes client, string? ns, string label) =>
        new KubernetesListWatcher<V1Pod, V1PodList>(ns, (r, ct) => ns is null
            ? client.CoreV1.ListPodForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct)
            : client.CoreV1.ListNamespacedPodWithHttpMessagesAsync(
                ns, allowWatchBookmarks: r.Watch ? true : null, continueParameter: r.Continue, labelSelector: label, limit: r.Limit,
                resourceVersion: r.ResourceVersion, timeoutSeconds: r.TimeoutSeconds, watch: r.Watch, cancellationToken: ct));
}
