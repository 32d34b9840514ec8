using GruOperator.Domain.Conditions;
using GruOperator.Tests.Support;

namespace GruOperator.Tests.Integration;

// LocalCluster-only: the watch-restart series is driven by LocalCluster.Faults.DropAllWatches.
[Collection(IntegrationCollection.Name)]
public sealed class OperatorMetricsTests
{
    [Fact]
    public async Task MetricsPortServesReconcileQueueAndWatchRestartSeries()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var port = FreePort.Next();
        await harness.StartOperatorAsync(metricsPort: port);
        await harness.CreateAsync(Models.Cpu("metered", "default"));
        await harness.WaitForStatusAsync("default", "metered", m => m.Status!.Phase == ModelPhase.Healthy, "healthy");
        harness.Cluster.Faults.DropAllWatches();

        // Each informer notices the dropped watch on its own schedule: wait for the GruModel informer's own restart,
        // not just the first informer's.
        using var http = new HttpClient();
        var text = await Poll.UntilAsync(
            () => http.GetStringAsync($"http://127.0.0.1:{port}/metrics")!,
            t => t.Split('\n').Any(IsGruModelWatchRestart),
            OperatorHarness.Timeout, "the grumodels watch restart on /metrics");

        var lines = text.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("controller_reconcile_duration_seconds_bucket{", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("controller_reconcile_total{", StringComparison.Ordinal) && l.Contains("result=\"success\"", StringComparison.Ordinal));
        // Pre-created series: a dashboard shows 0 errors rather than no data.
        Assert.Contains(lines, l => l.StartsWith("controller_reconcile_errors_total{", StringComparison.Ordinal) && l.Contains("controller=\"grumodel\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("controller_workqueue_depth{", StringComparison.Ordinal) && l.Contains("controller=\"grumodel\"", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("controller_reconcile_total{", StringComparison.Ordinal) && l.Contains("result=\"conflict\"", StringComparison.Ordinal));

        // Prometheus conventions: counters end in _total, durations are histograms in seconds.
        var types = lines.Where(l => l.StartsWith("# TYPE controller_", StringComparison.Ordinal)).Select(l => l.Split(' ')).ToDictionary(p => p[2], p => p[3]);
        Assert.Equal("histogram", types["controller_reconcile_duration_seconds"]);
        Assert.Equal("gauge", types["controller_workqueue_depth"]);
        Assert.All(types.Where(t => t.Value == "counter"), t => Assert.EndsWith("_total", t.Key, StringComparison.Ordinal));
        Assert.Equal(["controller_reconcile_errors_total", "controller_reconcile_total", "controller_watch_restarts_total"],
            types.Where(t => t.Value == "counter").Select(t => t.Key).Order(StringComparer.Ordinal));

        // What a Prometheus server asks for: OpenMetrics, ending in # EOF.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        using var response = await http.SendAsync(request);
        Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.EndsWith("# EOF", (await response.Content.ReadAsStringAsync()).TrimEnd(), StringComparison.Ordinal);

    }

    private static bool IsGruModelWatchRestart(string line) =>
        line.StartsWith("controller_watch_restarts_total{", StringComparison.Ordinal) && line.Contains("informer=\"grumodels/all\"", StringComparison.Ordinal);
}
