using System.Threading.Channels;
using Kube.Local.Api;
using Kube.Local.Storage;
using Microsoft.Extensions.Logging;

namespace Kube.Local.Controllers;

/// <summary>Marks each new Pod Running and Ready, standing in for a scheduler and kubelet in demos.</summary>
internal sealed partial class AutoReadyPods : IAsyncDisposable
{
    private readonly Channel<(string Namespace, string Name)> _pods = Channel.CreateUnbounded<(string, string)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly Action<WatchEvent> _subscription;
    private readonly ObjectStore _store;

    public AutoReadyPods(ObjectRegistry registry, PodDriver driver, ILogger logger)
    {
        _store = registry.Store;
        _subscription = e =>
        {
            if (e.Type == WatchEventType.Added && e.StorageKey == "/pods") _pods.Writer.TryWrite((e.Object.Namespace, e.Object.Name));
        };
        _store.Committed += _subscription;
        _loop = Task.Run(async () =>
        {
            try
            {
                await foreach (var (ns, name) in _pods.Reader.ReadAllAsync(_stop.Token))
                {
                    try
                    {
                        await driver.MarkReadyAsync(ns, name, _stop.Token);
                    }
                    catch (ApiError e) when (e.Code == 404)
                    {
                        // Deleted before it could start.
                    }
                    catch (ApiError e)
                    {
                        Log.Failed(logger, ns, name, e);
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                // Shutting down.
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        _store.Committed -= _subscription;
        _pods.Writer.TryComplete();
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Could not mark pod {Namespace}/{Name} ready")]
        public static partial void Failed(ILogger logger, string @namespace, string name, Exception e);
    }
}
