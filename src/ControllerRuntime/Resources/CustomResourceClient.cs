using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace ControllerRuntime.Resources;

/// <summary>Typed access to one custom resource kind: get, finalizer patches and status writes through /status.</summary>
public sealed partial class CustomResourceClient<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    private const int MaxConflictRetries = 5;
    private readonly IKubernetes _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates a client for <paramref name="type"/>.</summary>
    public CustomResourceClient(IKubernetes client, CustomResourceType type, TimeProvider time, ILogger<CustomResourceClient<T>> logger)
    {
        _client = client;
        Type = type;
        _time = time;
        _logger = logger;
    }

    /// <summary>The resource this client talks to.</summary>
    public CustomResourceType Type { get; }

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
            cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Writes the status through the status subresource (a PUT carrying resourceVersion); on 409 it rereads the object,
    /// applies <paramref name="setStatus"/> to the fresh copy and tries again.
    /// </summary>
    public async Task<T> ReplaceStatusAsync(T item, Action<T> setStatus, CancellationToken cancellationToken)
    {
        var current = item;
        for (var attempt = 1; ; attempt++)
        {
            setStatus(current);
            try
            {
                return await _client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync<T>(
                    current, Type.Group, Type.Version, current.Metadata.NamespaceProperty, Type.Plural, current.Metadata.Name,
                    cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict && attempt < MaxConflictRetries)
            {
                Log.StatusConflict(_logger, current.Metadata.NamespaceProperty, current.Metadata.Name, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(20 * attempt), _time, cancellationToken).ConfigureAwait(false);
                var fresh = await GetAsync(current.Metadata.NamespaceProperty, current.Metadata.Name, cancellationToken).ConfigureAwait(false);
                if (fresh is null) return current;
                current = fresh;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Status write of {Namespace}/{Name} conflicted (attempt {Attempt}); retrying on a fresh copy")]
        public static partial void StatusConflict(ILogger logger, string @namespace, string name, int attempt);
    }
}
