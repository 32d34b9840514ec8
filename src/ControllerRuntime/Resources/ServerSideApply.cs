using k8s;
using k8s.Models;

namespace ControllerRuntime.Resources;

/// <summary>Server-side apply of built-in kinds under one field manager.</summary>
/// <remarks>
/// Apply with force: the operator owns every field it sets (drift by hand is taken back), while fields it does not set,
/// such as replicas once an HPA owns them, stay with their managers.
/// </remarks>
public sealed class ServerSideApply(IKubernetes client, string fieldManager)
{
    /// <summary>The field manager name every apply uses.</summary>
    public string FieldManager { get; } = fieldManager;

    /// <summary>Applies a Deployment and returns what the server stored.</summary>
    public Task<V1Deployment> ApplyAsync(V1Deployment deployment, CancellationToken cancellationToken) =>
        client.AppsV1.PatchNamespacedDeploymentAsync(
            Patch(deployment), deployment.Metadata.Name, deployment.Metadata.NamespaceProperty,
            fieldManager: FieldManager, force: true, cancellationToken: cancellationToken);

    /// <summary>Applies a Service and returns what the server stored.</summary>
    public Task<V1Service> ApplyAsync(V1Service service, CancellationToken cancellationToken) =>
        client.CoreV1.PatchNamespacedServiceAsync(
            Patch(service), service.Metadata.Name, service.Metadata.NamespaceProperty,
            fieldManager: FieldManager, force: true, cancellationToken: cancellationToken);

    // JSON is YAML, so the apply body can be the object's JSON.
    private static V1Patch Patch(object body) => new(KubernetesJson.Serialize(body), V1Patch.PatchType.ApplyPatch);
}
