using ControllerRuntime.Metrics;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace ControllerRuntime.Informers;

/// <summary>A change the informer saw: <c>Old</c> is null for an add, <c>New</c> is null for a delete.</summary>
public readonly record struct ResourceChange<T>(T? Old, T? New);

/// <summary>
/// Keeps a <see cref="ResourceCache{T}"/> in step with the API server: lists (paged), then watches from the list's
/// resourceVersion, following bookmarks; reconnects from the last version it saw when a watch ends or fails, and relists
/// when that version expired (410), synthesizing deletes for objects that vanished meanwhile.
/// </summary>
public sealed partial class ResourceInformer<T> : IInformer where T : IKubernetesObject<V1ObjectMeta>
{
    private readonly IListWatcher<T> _source;
    private readonly ResourceCache<T> _cache;
    private readonly ControllerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Action<ResourceChange<T>>> _handlers = [];
    private Action<T>? _transform;
    private string _resourceVersion = "";

    /// <summary>Creates an informer that fills <paramref name="cache"/> from <paramref name="source"/>.</summary>
    public ResourceInformer(IListWatcher<T> source, ResourceCache<T> cache, ControllerMetrics metrics, TimeProvider time, ILogger logger, string name)
    {
        _source = source;
        _cache = cache;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Name = name;
    }

    /// <summary>A name for logs and metrics, e.g. "deployments".</summary>
    public string Name { get; }

    /// <summary>The last resourceVersion seen (from a list, an event or a bookmark).</summary>
    public string ResourceVersion => Volatile.Read(ref _resourceVersion);

    /// <summary>
    /// Sets a transform applied to every object before it is cached (after managedFields are dropped): it may clear
    /// fields no reconciler reads, so the cache holds less (controller-runtime's cache.TransformFunc). Set before <see cref="RunAsync"/>.
    /// </summary>
    public void TransformWith(Action<T> transform) => _transform = transform;

    /// <summary>Adds a handler called for every add, update and delete; register before <see cref="RunAsync"/>.</summary>
    public void OnChange(Action<ResourceChange<T>> handler) => _handlers.Add(handler);

    /// <inheritdoc />
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var needList = true;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    await RelistAsync(cancellationToken).ConfigureAwait(false);
                    needList = false;
                    _synced.TrySetResult();
                }

                var received = false;
                await foreach (var (type, item) in _source.WatchAsync(ResourceVersion, cancellationToken).ConfigureAwait(false))
                {
                    Apply(type, item);
                    received = true;
                    failures = 0;
                }
                // The server closed the watch (timeout, restart, dropped connection): resume from where we were.
                Log.WatchClosed(_logger, Name, ResourceVersion);
                _metrics.WatchRestarted(Name, "closed");
                if (!received)
                {
                    // A watch that closes at once again and again must not become a hot loop.
                    failures++;
                    await Task.Delay(RetryDelay(failures), _time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (ResourceExpiredException ex)
            {
                Log.WatchExpired(_logger, Name, ResourceVersion, ex.Message);
                _metrics.WatchRestarted(Name, "expired");
                needList = true;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = RetryDelay(failures);
                Log.WatchFailed(_logger, Name, delay.TotalMilliseconds, ex);
                _metrics.WatchRestarted(Name, "error");
                try
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private static TimeSpan RetryDelay(int failures) =>
        TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * Math.Pow(2, Math.Min(failures - 1, 10))));

    private async Task RelistAsync(CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var fresh = new List<T>();
        string? continueToken = null;
        string resourceVersion;
        do
        {
            var page = await _source.ListAsync(continueToken, cancellationToken).ConfigureAwait(false);
            fresh.AddRange(page.Items);
            continueToken = page.Continue;
            resourceVersion = page.ResourceVersion;
        }
        while (continueToken is not null);

        foreach (var item in fresh)
        {
            Trim(item);
            seen.Add(ObjectKey.Of(item));
            var old = _cache.Upsert(item);
            if (old is null || old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
            {
                Notify(new ResourceChange<T>(old, item));
            }
        }

        // Objects deleted while we were not watching never produce a DELETED event: synthesize one.
        foreach (var (key, item) in _cache.Entries.ToList())
        {
            if (seen.Contains(key)) continue;
            if (_source.Namespace is not null && item.Metadata.NamespaceProperty != _source.Namespace) continue;
            if (_cache.Remove(key) is { } removed) Notify(new ResourceChange<T>(removed, default));
        }

        Volatile.Write(ref _resourceVersion, resourceVersion);
        Log.Listed(_logger, Name, fresh.Count, resourceVersion);
    }

    private void Apply(WatchEventType type, T item)
    {
        Trim(item);
        var version = item.Metadata?.ResourceVersion;
        switch (type)
        {
            case WatchEventType.Added:
            case WatchEventType.Modified:
                var old = _cache.Upsert(item);
                Notify(new ResourceChange<T>(old, item));
                break;
            case WatchEventType.Deleted:
                var removed = _cache.Remove(ObjectKey.Of(item));
                Notify(new ResourceChange<T>(removed ?? item, default));
                break;
            case WatchEventType.Bookmark:
                break;
            default:
                return;
        }
        if (!string.IsNullOrEmpty(version)) Volatile.Write(ref _resourceVersion, version);
    }

    // managedFields are often the largest part of an object and no reconciler reads them from the cache
    // (controller-runtime's TransformStripManagedFields does the same).
    private void Trim(T item)
    {
        if (item.Metadata is { } meta) meta.ManagedFields = null;
        _transform?.Invoke(item);
    }

    private void Notify(ResourceChange<T> change)
    {
        foreach (var handler in _handlers)
        {
            try
            {
                handler(change);
            }
            catch (Exception ex)
            {
                // A faulty handler must not stop the informer; the next event or resync gives it another chance.
                Log.HandlerFailed(_logger, Name, ex);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Informer {Informer} listed {Count} objects at resourceVersion {ResourceVersion}")]
        public static partial void Listed(ILogger logger, string informer, int count, string resourceVersion);

        [LoggerMessage(2, LogLevel.Debug, "Informer {Informer} watch closed at resourceVersion {ResourceVersion}; reconnecting")]
        public static partial void WatchClosed(ILogger logger, string informer, string resourceVersion);

        [LoggerMessage(3, LogLevel.Information, "Informer {Informer} resourceVersion {ResourceVersion} expired ({Reason}); relisting")]
        public static partial void WatchExpired(ILogger logger, string informer, string resourceVersion, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Informer {Informer} watch failed; retrying in {DelayMs} ms")]
        public static partial void WatchFailed(ILogger logger, string informer, double delayMs, Exception exception);

        [LoggerMessage(5, LogLevel.Error, "Informer {Informer} change handler failed")]
        public static partial void HandlerFailed(ILogger logger, string informer, Exception exception);
    }
}

/// <summary>An informer as the controller host sees it: something to run and to wait on until its first list is cached.</summary>
public interface IInformer
{
    /// <summary>Lists, then watches until cancelled, reconnecting and relisting as needed.</summary>
    Task RunAsync(CancellationToken cancellationToken);

    /// <summary>Completes once the first list is in the cache.</summary>
    Task WaitForSyncAsync(CancellationToken cancellationToken);
}
