using k8s;
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

/// <summary>gru_operator_slo_objective: each model's spec.slo as the shipped rules and dashboard read it.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class SloObjectiveMetricTests
{
    [Fact]
    public async Task EachModelsObjectivesAreExportedWithTheBucketLabelGruServerUsesAndFollowTheSpec()
    {
        await using var harness = await OperatorHarness.StartAsync();
        var port = FreePort.Next();
        await harness.StartOperatorAsync(metricsPort: port);
        var model = Models.Cpu("strict", "default");
        model.Spec.Slo = new GruOperator.Api.SloSpec { LatencyP95 = "150ms", ErrorRate = "0.02", InputSchemaErrorRate = "0.03" };
        await harness.CreateAsync(model);
        await harness.CreateAsync(Models.Cpu("defaults", "default"));

        using var http = new HttpClient();
        var lines = await ScrapeUntilAsync(http, port, l => Objective(l, "defaults", "errorRate") is not null, "both models' objectives");
        Assert.Equal(("0.15", 0.15), Objective(lines, "strict", "latencyP95"));
        Assert.Equal((null, 0.02), Objective(lines, "strict", "errorRate"));
        Assert.Equal((null, 0.03), Objective(lines, "strict", "inputSchemaErrorRate"));
        // A model without spec.slo is judged against the CRD defaults, and says so.
        Assert.Equal(("0.2", 0.2), Objective(lines, "defaults", "latencyP95"));
        Assert.Equal((null, 0.01), Objective(lines, "defaults", "errorRate"));
        Assert.Equal((null, 0.05), Objective(lines, "defaults", "inputSchemaErrorRate"));
        Assert.Contains("# TYPE gru_operator_slo_objective gauge", lines);

        // The rules join the objective's le with GruServer's bucket label: a GruServer given the objective as a bound (as the
        // operator passes it) must spell it the same.
        var file = await TestSupport.GruTestModels.WriteAsync();
        await using (var server = await TestSupport.GruServerProcess.StartAsync(new TestSupport.GruServerStartOptions
        {
            ModelPath = file.Path, ModelName = "strict", ExtraArguments = [GruServing.Contract.Serving.ServerFlags.LatencySloBoundaries, "150ms"],
        }))
        {
            using var content = new StringContent(TestSupport.GruTestModels.InferRequestJson(file.Spec), System.Text.Encoding.UTF8, "application/json");
            (await http.PostAsync(new Uri(server.BaseUrl, "v2/models/strict/infer"), content)).EnsureSuccessStatusCode();
            var buckets = (await http.GetStringAsync(server.MetricsUrl)).Split('\n').Where(l => l.StartsWith("gru_request_duration_seconds_bucket{", StringComparison.Ordinal));
            Assert.Contains(buckets, l => l.Contains("le=\"0.15\"", StringComparison.Ordinal));
        }

        // Level-triggered from the cache: an edited objective is exported at once, a deleted model's series go.
        await harness.PatchSpecAsync("default", "strict", new { slo = new { errorRate = "0.005", latencyP95 = "1s" } });
        lines = await ScrapeUntilAsync(http, port, l => Objective(l, "strict", "errorRate")?.Value == 0.005, "the edited errorRate");
        Assert.Equal(("1", 1.0), Objective(lines, "strict", "latencyP95"));
        Assert.Single(lines, l => l.StartsWith("gru_operator_slo_objective{", StringComparison.Ordinal) && l.Contains("model=\"strict\"", StringComparison.Ordinal) && l.Contains("latencyP95", StringComparison.Ordinal));
        await harness.Client.CustomObjects.DeleteNamespacedCustomObjectAsync(GruOperator.Api.GruModel.Group, GruOperator.Api.GruModel.Version, "default", GruOperator.Api.GruModel.Plural, "defaults");
        lines = await ScrapeUntilAsync(http, port, l => Objective(l, "defaults", "errorRate") is null, "the deleted model's objectives to go");
        Assert.Equal((null, 0.005), Objective(lines, "strict", "errorRate"));
    }

    /// <summary>The le label and value of one model's objective series (labels in any order), or null when it is not exported.</summary>
    private static (string? Le, double Value)? Objective(string[] lines, string model, string objective)
    {
        foreach (var line in lines.Where(l => l.StartsWith("gru_operator_slo_objective{", StringComparison.Ordinal)))
        {
            var labels = line[(line.IndexOf('{') + 1)..line.LastIndexOf('}')].Split(',')
                .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1].Trim('"'), StringComparer.Ordinal);
            if (labels.GetValueOrDefault("namespace") == "default" && labels.GetValueOrDefault("model") == model && labels.GetValueOrDefault("objective") == objective)
            {
                return (labels.GetValueOrDefault("le"), double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return null;
    }

    private static Task<string[]> ScrapeUntilAsync(HttpClient http, int port, Func<string[], bool> done, string what) =>
        Poll.UntilAsync(async () => (string[]?)(await http.GetStringAsync($"http://127.0.0.1:{port}/metrics")).Split('\n'), done, OperatorHarness.Timeout, what);
}
