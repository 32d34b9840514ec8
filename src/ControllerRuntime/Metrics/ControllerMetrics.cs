using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ControllerRuntime.Metrics;

/// <summary>The controller runtime's own metrics: reconcile duration and errors, queue depth, watch restarts.</summary>
public sealed class ControllerMetrics
{
    /// <summary>The meter name to export (e.g. with OpenTelemetry's AddMeter).</summary>
    public const string MeterName = "ControllerRuntime";

    private readonly Histogram<double> _reconcileDuration;
    private readonly Counter<long> _reconcileErrors;
    private readonly Counter<long> _reconciles;
    private readonly Counter<long> _watchRestarts;
    private readonly Lock _lock = new();
    private readonly List<(string Controller, Func<int> Depth)> _queues = [];

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public ControllerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _reconcileDuration = meter.CreateHistogram<double>(
            "controller_reconcile_duration", unit: "s", description: "Time spent in one reconcile.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _reconciles = meter.CreateCounter<long>("controller_reconcile_total", description: "Reconciles by result (success, requeue, conflict, error).");
        _reconcileErrors = meter.CreateCounter<long>("controller_reconcile_errors_total", description: "Reconciles that failed and were retried with backoff.");
        _watchRestarts = meter.CreateCounter<long>("controller_watch_restarts_total", description: "Watches that were reopened, by reason (closed, expired, error).");
        meter.CreateObservableGauge("controller_workqueue_depth", ObserveDepth, description: "Items waiting in each controller's work queue.");
    }

    /// <summary>Reports the depth of a controller's queue from now on.</summary>
    public void TrackQueue(string controller, Func<int> depth)
    {
        lock (_lock) _queues.Add((controller, depth));
    }

    /// <summary>Pre-creates the series of <paramref name="controller"/> so dashboards show zeros instead of gaps.</summary>
    public void Initialize(string controller)
    {
        var tag = new KeyValuePair<string, object?>("controller", controller);
        _reconcileErrors.Add(0, tag);
        foreach (var result in new[] { "success", "requeue", "conflict", "error" })
        {
            _reconciles.Add(0, tag, new KeyValuePair<string, object?>("result", result));
        }
    }

    /// <summary>Records one reconcile of <paramref name="controller"/>.</summary>
    public void Reconciled(string controller, string result, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("controller", controller);
        _reconcileDuration.Record(elapsed.TotalSeconds, tag);
        _reconciles.Add(1, tag, new KeyValuePair<string, object?>("result", result));
        if (result == "error") _reconcileErrors.Add(1, tag);
    }

    /// <summary>Records that an informer reopened its watch.</summary>
    public void WatchRestarted(string informer, string reason) =>
        _watchRestarts.Add(1, new KeyValuePair<string, object?>("informer", informer), new KeyValuePair<string, object?>("reason", reason));

    private IEnumerable<Measurement<int>> ObserveDepth()
    {
        lock (_lock)
        {
            return _queues.Select(q => new Measurement<int>(q.Depth(), new KeyValuePair<string, object?>("controller", q.Controller))).ToList();
        }
    }
}
