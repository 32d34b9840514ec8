using k8s;
using k8s.Models;

namespace ControllerRuntime.Informers;

/// <summary>Lists and watches one kind of resource in one scope (a namespace or the whole cluster).</summary>
public interface IListWatcher<T> where T : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>The namespace this source covers, or null for all namespaces.</summary>
    string? Namespace { get; }

    /// <summary>Lists one page; pass the previous page's continue token to get the next.</summary>
    Task<ResourcePage<T>> ListAsync(string? continueToken, CancellationToken cancellationToken);

    /// <summary>Watches from <paramref name="resourceVersion"/>; ends when the server closes the stream.
    /// Throws <see cref="ResourceExpiredException"/> when that version is too old (HTTP 410).</summary>
    IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string resourceVersion, CancellationToken cancellationToken);
}

/// <summary>One page of a list call.</summary>
public sealed record ResourcePage<T>(IReadOnlyList<T> Items, string ResourceVersion, string? Continue);

/// <summary>The resourceVersion a watch started from is no longer in the server's history (410 Gone): relist.</summary>
public sealed class ResourceExpiredException(string message, Exception? inner = null) : Exception(message, inner);
