using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Autorest;
using k8s.Models;

namespace ControllerRuntime.Informers;

/// <summary>What a list or watch call asks the API server for.</summary>
public sealed record ListRequest(
    string? Continue,
    string? ResourceVersion,
    bool Watch,
    int? Limit,
    int? TimeoutSeconds);

/// <summary>An <see cref="IListWatcher{T}"/> over one generated KubernetesClient list operation.</summary>
/// <remarks>Every KubernetesClient list operation has the same parameters, so one delegate covers lists and watches.</remarks>
public sealed class KubernetesListWatcher<T, TList> : IListWatcher<T>
    where T : IKubernetesObject<V1ObjectMeta>
    where TList : IKubernetesObject<V1ListMeta>, IItems<T>
{
    private readonly Func<ListRequest, CancellationToken, Task<HttpOperationResponse<TList>>> _call;
    private readonly int _pageSize;
    private readonly TimeSpan _watchTimeout;

    /// <summary>Creates a source for <paramref name="namespace"/> (null: all) calling <paramref name="call"/>.</summary>
    public KubernetesListWatcher(
        string? @namespace,
        Func<ListRequest, CancellationToken, Task<HttpOperationResponse<TList>>> call,
        int pageSize = 500,
        TimeSpan? watchTimeout = null)
    {
        Namespace = @namespace;
        _call = call;
        _pageSize = pageSize;
        _watchTimeout = watchTimeout ?? TimeSpan.FromMinutes(5);
    }

    /// <inheritdoc />
    public string? Namespace { get; }

    /// <inheritdoc />
    public async Task<ResourcePage<T>> ListAsync(string? continueToken, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _call(new ListRequest(continueToken, null, false, _pageSize, null), cancellationToken).ConfigureAwait(false);
            var list = response.Body;
            return new ResourcePage<T>(
                list.Items?.ToList() ?? [],
                list.Metadata?.ResourceVersion ?? "",
                string.IsNullOrEmpty(list.Metadata?.ContinueProperty) ? null : list.Metadata.ContinueProperty);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Gone)
        {
            // A continue token outlived the server's history: the caller starts the list again.
            throw new ResourceExpiredException("The list's continue token expired.", ex);
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string resourceVersion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The server ends the watch after timeoutSeconds; a little jitter keeps many informers from reconnecting together.
        var timeout = (int)_watchTimeout.TotalSeconds + Random.Shared.Next(0, 30);
        using var watchCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Guard against a connection that went silent without closing: the server would have closed it by now.
        watchCts.CancelAfter(TimeSpan.FromSeconds(timeout + 60));

        HttpOperationResponse<TList> response;
        try
        {
            response = await _call(new ListRequest(null, resourceVersion, true, null, timeout), watchCts.Token).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Gone)
        {
            throw new ResourceExpiredException($"resourceVersion {resourceVersion} is too old.", ex);
        }

        using (response)
        {
            var stream = await response.Response.Content.ReadAsStreamAsync(watchCts.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream);
            while (true)
            {
                string? line;
                try
                {
                    line = await reader.ReadLineAsync(watchCts.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
                {
                    // A dropped or silent connection ends this watch; the informer resumes from its last resourceVersion.
                    yield break;
                }
                if (line is null) yield break;
                if (line.Length == 0) continue;
                yield return ParseEvent(line);
            }
        }
    }

    private static (WatchEventType Type, T Object) ParseEvent(string line)
    {
        var raw = KubernetesJson.Deserialize<RawWatchEvent>(line);
        if (raw.Type == WatchEventType.Error)
        {
            var status = KubernetesJson.Deserialize<V1Status>(raw.Object);
            if (status.Code == (int)HttpStatusCode.Gone)
            {
                throw new ResourceExpiredException(status.Message ?? "resourceVersion expired.");
            }
            throw new IOException($"The watch reported an error: {status.Code} {status.Reason}: {status.Message}");
        }
        return (raw.Type, KubernetesJson.Deserialize<T>(raw.Object));
    }

    private sealed class RawWatchEvent
    {
        [JsonPropertyName("type")]
        public WatchEventType Type { get; set; }

        [JsonPropertyName("object")]
        public JsonElement Object { get; set; }
    }
}
