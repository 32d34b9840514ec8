using System.Net;
using k8s.Autorest;
using ControllerRuntime.Informers;
using ControllerRuntime.Metrics;
using ControllerRuntime.Queues;
using Microsoft.Extensions.Logging;

namespace ControllerRuntime.Controllers;

/// <summary>
/// Runs N workers over one work queue and one <see cref="IReconciler"/>. Owns retries (exponential backoff per key),
/// timed requeues (through the same queue, so a key is never reconciled twice at once), metrics and logging scopes.
/// </summary>
public sealed partial class Controller : IDisposable
{
    private readonly IReconciler _reconciler;
    private readonly ControllerOptions _options;
    private readonly ControllerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private long _reconcileIds;

    /// <summary>Creates a controller named <paramref name="name"/> (used in logs and metrics).</summary>
    public Controller(string name, IReconciler reconciler, ControllerOptions options, ControllerMetrics metrics, TimeProvider time, ILogger logger)
    {
        Name = name;
        _reconciler = reconciler;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Queue = new WorkQueue(time, new ExponentialBackoff(options.BackoffBase, options.BackoffMax));
        metrics.TrackQueue(name, () => Queue.Count);
    }

    /// <summary>The controller's name.</summary>
    public string Name { get; }

    /// <summary>The queue; event handlers add keys to it.</summary>
    public WorkQueue Queue { get; }

    /// <summary>Queues the object with key <paramref name="key"/> ("namespace/name").</summary>
    public void Enqueue(string key) => Queue.Add(key);

    /// <summary>Runs the workers until cancelled, then shuts the queue down.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Log.Starting(_logger, Name, _options.Workers);
        // Here rather than in the constructor: by now the host's metric exporters listen, so the zeros are seen.
        _metrics.Initialize(Name);
        using var registration = cancellationToken.Register(Queue.ShutDown);
        var workers = Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(() => WorkAsync(cancellationToken), CancellationToken.None)).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        Log.Stopped(_logger, Name);
    }

    /// <inheritdoc />
    public void Dispose() => Queue.Dispose();

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await Queue.GetAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await ProcessAsync(key, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Queue.Done(key);
            }
        }
    }

    private async Task ProcessAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = ObjectKey.Parse(key);
        var request = new ReconcileRequest(ns, name);
        var reconcileId = Interlocked.Increment(ref _reconcileIds);
        using var scope = _logger.BeginScope(new ReconcileScope(Name, ns, name, reconcileId));
        var started = _time.GetTimestamp();
        try
        {
            var result = await _reconciler.ReconcileAsync(request, cancellationToken).ConfigureAwait(false);
            Queue.Forget(key);
            if (result.RequeueAfter is { } after)
            {
                Queue.AddAfter(key, after);
                _metrics.Reconciled(Name, "requeue", _time.GetElapsedTime(started));
            }
            else
            {
                if (_options.ResyncPeriod > TimeSpan.Zero) Queue.AddAfter(key, _options.ResyncPeriod);
                _metrics.Reconciled(Name, "success", _time.GetElapsedTime(started));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the next leader picks the key up from its own list.
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Optimistic concurrency: the object changed since it was read. Not a failure worth a warning; reconcile
            // again (with backoff, so a hot object cannot spin) from the state the informers deliver next.
            _metrics.Reconciled(Name, "conflict", _time.GetElapsedTime(started));
            Log.Conflict(_logger, request.ToString(), Queue.Failures(key) + 1);
            Queue.AddRateLimited(key);
        }
        catch (Exception ex)
        {
            _metrics.Reconciled(Name, "error", _time.GetElapsedTime(started));
            Log.ReconcileFailed(_logger, request.ToString(), Queue.Failures(key) + 1, ex);
            Queue.AddRateLimited(key);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Controller {Controller} starting {Workers} workers")]
        public static partial void Starting(ILogger logger, string controller, int workers);

        [LoggerMessage(2, LogLevel.Information, "Controller {Controller} stopped")]
        public static partial void Stopped(ILogger logger, string controller);

        [LoggerMessage(4, LogLevel.Debug, "Reconcile of {Key} hit a conflict (attempt {Attempt}); recomputing from fresh state after backoff")]
        public static partial void Conflict(ILogger logger, string key, int attempt);

        [LoggerMessage(3, LogLevel.Warning, "Reconcile of {Key} failed (attempt {Attempt}); retrying with backoff")]
        public static partial void ReconcileFailed(ILogger logger, string key, int attempt, Exception exception);
    }
}
