namespace Kube.Local.Resources;

/// <summary>The built-in resources this server serves, with the discovery facts kubectl relies on.</summary>
internal static class BuiltInResources
{
    public static readonly IReadOnlyList<ResourceType> All =
    [
        new() { Group = "", Version = "v1", Plural = "namespaces", Kind = "Namespace", Namespaced = false, ShortNames = ["ns"], HasStatus = true, NameRule = NameRule.Label, FieldLabels = ["status.phase"] },
        new() { Group = "", Version = "v1", Plural = "pods", Kind = "Pod", Namespaced = true, ShortNames = ["po"], Categories = ["all"], HasStatus = true, ReturnsDeletedObject = true,
            FieldLabels = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"] },
        new() { Group = "", Version = "v1", Plural = "nodes", Kind = "Node", Namespaced = false, ShortNames = ["no"], HasStatus = true, FieldLabels = ["spec.unschedulable"] },
        new() { Group = "", Version = "v1", Plural = "services", Kind = "Service", Namespaced = true, ShortNames = ["svc"], Categories = ["all"], HasStatus = true, NameRule = NameRule.Dns1035Label, ReturnsDeletedObject = true },
        new() { Group = "", Version = "v1", Plural = "endpoints", Kind = "Endpoints", Namespaced = true, ShortNames = ["ep"] },
        new() { Group = "", Version = "v1", Plural = "configmaps", Kind = "ConfigMap", Namespaced = true, ShortNames = ["cm"] },
        new() { Group = "", Version = "v1", Plural = "secrets", Kind = "Secret", Namespaced = true, FieldLabels = ["type"] },
        new() { Group = "", Version = "v1", Plural = "serviceaccounts", Kind = "ServiceAccount", Namespaced = true, ShortNames = ["sa"], ReturnsDeletedObject = true },
        new() { Group = "", Version = "v1", Plural = "events", Kind = "Event", Namespaced = true, ShortNames = ["ev"],
            FieldLabels = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"] },
        new() { Group = "apps", Version = "v1", Plural = "deployments", Kind = "Deployment", Namespaced = true, ShortNames = ["deploy"], Categories = ["all"], HasStatus = true, TracksGeneration = true, Scale = ScalePaths.Apps },
        new() { Group = "apps", Version = "v1", Plural = "replicasets", Kind = "ReplicaSet", Namespaced = true, ShortNames = ["rs"], Categories = ["all"], HasStatus = true, TracksGeneration = true, FieldLabels = ["status.replicas"], Scale = ScalePaths.Apps },
        new() { Group = "coordination.k8s.io", Version = "v1", Plural = "leases", Kind = "Lease", Namespaced = true },
        new() { Group = "apiextensions.k8s.io", Version = "v1", Plural = "customresourcedefinitions", Kind = "CustomResourceDefinition", Namespaced = false, ShortNames = ["crd", "crds"], Categories = ["api-extensions"], HasStatus = true, TracksGeneration = true },
        // events.k8s.io/v1 shares storage with core/v1 events; EventConversion maps the field names.
        new() { Group = "events.k8s.io", Version = "v1", Plural = "events", Kind = "Event", Namespaced = true, ShortNames = ["ev"], StorageKey = "/events",
            FieldLabels = ["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reason", "reportingController", "type"] },
    ];
}
