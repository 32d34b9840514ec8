using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace ControllerRuntime.Resources;

/// <summary>Typed access to one custom resource kind: get, finalizer patches and status writes through /status.</summary>
public sealed class CustomResourceClient<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IKubernetes _client;

    /// <summary>Creates a client for <paramref name="type"/> whose writes go out under <paramref name="fieldManager"/>.</summary>
    public CustomResourceClient(IKubernetes client, CustomResourceType type, string fieldManager)
    {
        _client = client;
        Type = type;
        FieldManager = fieldManager;
    }

    /// <summary>The resource this client talks to.</summary>
    public CustomResourceType Type { get; }

    /// <summary>The field manager of every write (metadata.managedFields names it as the owner of what it set).</summary>
    public string FieldManager { get; }

    /// <summary>Reads the object from the API server (not the cache); null when it does not exist.</summary>
    public async Task<T?> GetAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.CustomObjects.GetNamespacedCustomObjectAsync<T>(
                Type.Group, Type.Version, @namespace, Type.Plural, name, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Sets metadata.finalizers with a merge patch that carries the resourceVersion it was computed from, so a concurrent
    /// change yields 409 (and a retry from fresh state) instead of silently dropping another controller's finalizer.
    /// </summary>
    public Task<T> PatchFinalizersAsync(T item, IReadOnlyList<string> finalizers, CancellationToken cancellationToken)
    {
        var patch = new
        {
            metadata = new { resourceVersion = item.Metadata.ResourceVersion, finalizers },
        };
        return _client.CustomObjects.PatchNamespacedCustomObjectAsync<T>(
            new V1Patch(KubernetesJson.Serialize(patch), V1Patch.PatchType.MergePatch),
            Type.Group, Type.Version, item.Metadata.NamespaceProperty, Type.Plural, item.Metadata.Name,
            fieldManager: FieldManager, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Writes <paramref name="item"/>'s status through the status subresource: a PUT carrying the resourceVersion the
    /// status was computed from. A 409 is not retried here: a status computed from a stale object must not land on a
    /// fresh one. It propagates, and the controller requeues the key with backoff to recompute from fresh state.
    /// </summary>
    public Task<T> ReplaceStatusAsync(T item, CancellationToken cancellationToken) =>
        _client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<T>(
            item, Type.Group, Type.Version, item.Metadata.NamespaceProperty, Type.Plural, item.Metadata.Name,
            fieldManager: FieldManager, cancellationToken: cancellationToken);
}
