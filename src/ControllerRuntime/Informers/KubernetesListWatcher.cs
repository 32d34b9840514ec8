using System.Net;
using System.Runtime.CompilerServices;
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
    private readonly string _notServedHint;

    /// <summary>
    /// Creates a source for <paramref name="namespace"/> (null: all) calling <paramref name="call"/>.
    /// <paramref name="notServedHint"/> tells the user how to fix a 404 on list (the host knows where its CRDs live).
    /// </summary>
    public KubernetesListWatcher(
        string? @namespace,
        Func<ListRequest, CancellationToken, Task<HttpOperationResponse<TList>>> call,
        int pageSize = 500,
        TimeSpan? watchTimeout = null,
        string notServedHint = "install its CustomResourceDefinition")
    {
        Namespace = @namespace;
        _call = call;
        _notServedHint = notServedHint;
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
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // The usual cause on a fresh cluster; say so instead of logging a bare 404 on every retry.
            throw new InvalidOperationException(
                $"The API server does not serve this resource (404 on list{(Namespace is null ? "" : " in namespace " + Namespace)}): {_notServedHint}.", ex);
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

        Exception? streamError = null;
        using (response)
        {
            // KubernetesClient wraps watch responses in its own line reader, reachable only through this extension. Its
            // suggested replacements exist per built-in kind, not for custom resources, so the generic path stays here.
#pragma warning disable CS0618
            var events = Task.FromResult(response).WatchAsync<T, TList>(ex =>
            {
                streamError ??= ex;
                // An ERROR event ends this watch; the server closes the stream right after it anyway.
                watchCts.Cancel();
            }, watchCts.Token);
#pragma warning restore CS0618

            await using var enumerator = events.GetAsyncEnumerator(watchCts.Token);
            while (true)
            {
                bool moved;
                try
                {
                    moved = await enumerator.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // A dropped, silent or failed connection ends this watch; the informer resumes from its last resourceVersion.
                    if (ex is not OperationCanceledException) streamError ??= ex;
                    moved = false;
                }
                if (!moved) break;
                yield return enumerator.Current;
            }
        }

        switch (streamError)
        {
            case KubernetesException { Status.Code: (int)HttpStatusCode.Gone } expired:
                throw new ResourceExpiredException(expired.Status.Message ?? "resourceVersion expired.", expired);
            case KubernetesException failed:
                throw new IOException($"The watch reported an error: {failed.Status.Code} {failed.Status.Reason}: {failed.Status.Message}", failed);
            case not null:
                throw new IOException("The watch stream failed: " + streamError.Message, streamError);
        }
    }
}
