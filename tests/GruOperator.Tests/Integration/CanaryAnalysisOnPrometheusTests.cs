using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using TestSupport;

namespace GruOperator.Tests.Integration;

/// <summary>
/// The canary judged on real data: a real Prometheus scrapes real GruServer processes standing in for the stable pod
/// (revision 1) and the canary pod (revision 2) of one GruModel, under load from the test, and the operator runs its
/// analysis against it. The pods themselves are marked ready through the pods' status subresource; GruServer's fault
/// flags make the canary slow or failing. Short intervals: 1 s scrapes, a 4 s step and analysis interval.
/// </summary>
public abstract class CanaryAnalysisOnPrometheusTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync();

    /// <summary>p95 under 100 ms, under 1% 5xx, at least 20 requests per window; one 50% step held 4 s; two failed runs roll back.</summary>
    private static GruModel Judged(string name, string ns, int[]? weights = null)
    {
        var model = Models.Cpu(name, ns);
        model.Spec.Slo = new GruOperator.Api.SloSpec { LatencyP95 = "100ms", ErrorRate = "0.01", MinRequests = 20 };
        model.Spec.Rollout = new RolloutSpec
        {
            Canary = new CanarySpec
            {
                Steps = [.. (weights ?? [50]).Select(w => new CanaryStep { SetWeight = w, Pause = "4s" })],
                Analysis = new AnalysisSpec { Interval = "4s", FailureLimit = 2, InconclusiveLimit = 2, OnInconclusive = GruOperator.Api.InconclusiveAction.Pause },
            },
        };
        return model;
    }

    [Fact]
    public async Task AHealthyCanaryPassesAnalysisAndIsPromoted()
    {
        await using var harness = await StartHarnessAsync();
        await using var servers = await TrackServers.StartAsync(harness.Namespace, "good", canaryLatency: null, canaryErrorRate: null);
        var metricsPort = FreePort.Next();
        await StartOperatorAsync(harness, servers.Prometheus, metricsPort);
        await StartCanaryAsync(harness, servers, "good");

        var promoted = await harness.WaitForStatusAsync(harness.Namespace, "good",
            m => m.Status!.Canary is null && m.Status.Stable!.Revision == "2" && m.Status.Phase == ModelPhase.Healthy, "revision 2 promoted");
        var entry = promoted.Status!.History![0];
        Assert.Equal((nameof(RolloutOutcome.Promoted), RolloutReasons.AnalysisPassed), (entry.Outcome, entry.Reason));
        var events = await Poll.UntilAsync<IReadOnlyList<k8s.Models.Corev1Event>>(async () => await harness.EventsAsync(harness.Namespace, "good"),
            es => es.Any(e => e.Reason == RolloutReasons.Promoted), OperatorHarness.Timeout, "a Promoted event");
        Assert.Contains(events, e => e.Reason == RolloutReasons.AnalysisRunPassed && e.Type == "Normal");
        Assert.DoesNotContain(events, e => e.Reason is RolloutReasons.AnalysisRunFailed or RolloutReasons.RolledBack);

        using var http = new HttpClient();
        var metrics = (await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics")).Split('\n');
        bool Series(string line, string name, string label) => line.StartsWith(name + "{", StringComparison.Ordinal)
            && line.Contains("model=\"good\"", StringComparison.Ordinal) && line.Contains(label, StringComparison.Ordinal);
        Assert.Contains(metrics, l => Series(l, "gru_operator_rollouts_total", "outcome=\"Promoted\"") && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_rollouts_total", "outcome=\"Started\"") && l.EndsWith(" 1", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_rollouts_total", "outcome=\"RolledBack\"") && l.EndsWith(" 0", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_analysis_runs_total", "verdict=\"Passed\"") && !l.EndsWith(" 0", StringComparison.Ordinal));
        Assert.Contains(metrics, l => Series(l, "gru_operator_canary_weight", "namespace=") && l.EndsWith(" 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnOperatorRestartAtTheSecondStepResumesThereAndPromotesOnce()
    {
        await using var harness = await StartHarnessAsync();
        await using var servers = await TrackServers.StartAsync(harness.Namespace, "resumed", canaryLatency: null, canaryErrorRate: null);
        var first = await StartOperatorAsync(harness, servers.Prometheus);
        await StartCanaryAsync(harness, servers, "resumed", [25, 50]);

        // Step 1 passed on its analysis: the canary is at step 2.
        var before = await harness.WaitForStatusAsync(harness.Namespace, "resumed", m => m.Status!.Canary is { Step: 1 }, "the canary at step 2");
        await harness.StopOperatorAsync(first);
        await StartOperatorAsync(harness, servers.Prometheus);

        var promoted = await harness.WaitForStatusAsync(harness.Namespace, "resumed",
            m => m.Status!.Canary is null && m.Status.Stable!.Revision == "2" && m.Status.Phase == ModelPhase.Healthy, "revision 2 promoted after the restart");
        Assert.Equal((nameof(RolloutOutcome.Promoted), RolloutReasons.AnalysisPassed), (promoted.Status!.History![0].Outcome, promoted.Status.History[0].Reason));
        Assert.Single(promoted.Status.History, h => h.Outcome == nameof(RolloutOutcome.Promoted));
        Assert.Equal("2", before.Status!.Canary!.Revision);
        var events = await Poll.UntilAsync<IReadOnlyList<k8s.Models.Corev1Event>>(async () => await harness.EventsAsync(harness.Namespace, "resumed"),
            es => es.Any(e => e.Reason == RolloutReasons.Promoted), OperatorHarness.Timeout, "a Promoted event");
        // Never restarted, never stepped twice: one start, at most one step change (1 → 2; its Event follows the status
        // write, so an operator stopped between the two loses it, never repeats it), one promotion.
        Assert.Single(events, e => e.Reason == RolloutReasons.CanaryStarted);
        Assert.True(events.Count(e => e.Reason == RolloutReasons.CanaryStepChanged) <= 1, "the step changed twice");
        Assert.Single(events, e => e.Reason == RolloutReasons.Promoted);
        Assert.Equal(1, events.Single(e => e.Reason == RolloutReasons.CanaryStarted).Count);
    }

    [Theory]
    [InlineData("slow", "150ms", null, MetricNames.LatencyP95, "threshold 0.1")]
    [InlineData("erroring", null, 0.5, MetricNames.ErrorRate, "threshold 0.01")]
    public async Task ABadCanaryIsRolledBackWithTheFailingMetricNamedInTheEvent(string name, string? latency, double? errorRate, string metric, string threshold)
    {
        await using var harness = await StartHarnessAsync();
        await using var servers = await TrackServers.StartAsync(harness.Namespace, name, latency, errorRate);
        await StartOperatorAsync(harness, servers.Prometheus);
        await StartCanaryAsync(harness, servers, name);

        var rolledBack = await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.RolledBack, "phase RolledBack");
        Assert.Equal(RolloutReasons.AnalysisFailed, rolledBack.Status!.RolledBack!.Reason);
        Assert.Contains(metric, rolledBack.Status.RolledBack.Message, StringComparison.Ordinal);
        Assert.Equal(("1", "sha256:" + Models.Sha), (rolledBack.Status.Stable!.Revision, rolledBack.Status.Stable.ModelDigest));
        Assert.Equal((nameof(RolloutOutcome.RolledBack), RolloutReasons.AnalysisFailed), (rolledBack.Status.History![0].Outcome, rolledBack.Status.History[0].Reason));
        var warning = await Poll.UntilAsync(async () => (await harness.EventsAsync(harness.Namespace, name)).FirstOrDefault(e => e.Reason == RolloutReasons.RolledBack),
            _ => true, OperatorHarness.Timeout, "a RolledBack event");
        Assert.Equal("Warning", warning.Type);
        // The metric with its value, threshold, stable value and p-value.
        Assert.Contains($"{metric}: value ", warning.Message, StringComparison.Ordinal);
        Assert.Contains(threshold, warning.Message, StringComparison.Ordinal);
        Assert.Contains("stable ", warning.Message, StringComparison.Ordinal);
        Assert.Contains(", p ", warning.Message, StringComparison.Ordinal);
        Assert.Contains(await harness.EventsAsync(harness.Namespace, name), e => e.Reason == RolloutReasons.AnalysisRunFailed && e.Type == "Warning");
        await harness.WaitForDeploymentGoneAsync(harness.Namespace, name + "-canary");
    }

    [Fact]
    public async Task WithPrometheusDownTheRunsAreInconclusiveAndTheCanaryIsHeldNeverPromoted()
    {
        await using var harness = await StartHarnessAsync();
        await using var servers = await TrackServers.StartAsync(harness.Namespace, "blind", canaryLatency: null, canaryErrorRate: null);
        await StartOperatorAsync(harness, servers.Prometheus);
        await harness.CreateAsync(Judged("blind", harness.Namespace));
        await harness.WaitForStatusAsync(harness.Namespace, "blind", m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");
        await servers.Prometheus.StopAsync();

        await harness.PatchSpecAsync(harness.Namespace, "blind", new { model = new { sha256 = Models.OtherSha } });

        var paused = await harness.WaitForStatusAsync(harness.Namespace, "blind", m => m.Status!.Phase == ModelPhase.Paused, "phase Paused on inconclusive analysis");
        var canary = paused.Status!.Canary!;
        Assert.Equal(nameof(PauseReason.AnalysisInconclusive), Assert.Single(canary.PauseConditions!).Reason);
        Assert.Equal(AnalysisVerdict.Inconclusive, canary.Analysis!.LastRun!.Verdict);
        Assert.Equal(2, canary.Analysis.ConsecutiveInconclusive);
        Assert.Contains("unreachable", canary.Analysis.LastRun.Reason, StringComparison.Ordinal);
        Assert.Equal("1", paused.Status.Stable!.Revision);
        Assert.DoesNotContain(paused.Status.History ?? [], h => h.Outcome == nameof(RolloutOutcome.Promoted));
        Assert.Contains(await harness.EventsAsync(harness.Namespace, "blind"), e => e.Reason == RolloutReasons.AnalysisRunInconclusive);
        Assert.Equal("1", (await harness.DeploymentAsync(harness.Namespace, "blind-stable"))!.Metadata.Labels[GruOperator.Serving.Labels.Revision]);
    }

    private static Task<Microsoft.AspNetCore.Builder.WebApplication> StartOperatorAsync(OperatorHarness harness, PrometheusProcess prometheus, int metricsPort = 0) =>
        harness.StartOperatorAsync(metricsPort: metricsPort,
            extraArgs: ["--prometheus-address", prometheus.Address.ToString().TrimEnd('/')],
            overrides: new Dictionary<string, string?> { ["Prometheus:MaxRetries"] = "1" });

    /// <summary>Stable healthy, Prometheus holding a window of loaded scrapes for both servers, then the model change.</summary>
    private static async Task StartCanaryAsync(OperatorHarness harness, TrackServers servers, string name, int[]? weights = null)
    {
        await harness.CreateAsync(Judged(name, harness.Namespace, weights));
        await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");
        await servers.WaitForLoadedScrapesAsync(12);
        await harness.PatchSpecAsync(harness.Namespace, name, new { model = new { sha256 = Models.OtherSha } });
    }

    /// <summary>GruServer processes for revision 1 (stable) and 2 (canary) of one model, under load, scraped every second.</summary>
    private sealed class TrackServers : IAsyncDisposable
    {
        private readonly List<GruServerProcess> _servers;
        private readonly InferenceLoad _load;

        private TrackServers(List<GruServerProcess> servers, PrometheusProcess prometheus, InferenceLoad load)
        {
            _servers = servers;
            Prometheus = prometheus;
            _load = load;
        }

        public PrometheusProcess Prometheus { get; }

        /// <summary>
        /// Starts the servers for <paramref name="model"/> (its spec.model.name, the <c>model</c> label of their series); the
        /// Prometheus target labels add <c>namespace</c>, as Kubernetes service discovery relabelling would.
        /// </summary>
        public static async Task<TrackServers> StartAsync(string @namespace, string model, string? canaryLatency, double? canaryErrorRate)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var file = await GruTestModels.WriteAsync(cancellationToken: cts.Token);
            GruServerStartOptions Options(string revision, string track) =>
                new() { ModelPath = file.Path, ModelName = model, ModelSha256 = file.Sha256, Revision = revision, Track = track };
            var servers = (await Task.WhenAll(
                GruServerProcess.StartAsync(Options("1", "stable"), cts.Token),
                GruServerProcess.StartAsync(Options("2", "canary") with { FaultLatency = canaryLatency, FaultErrorRate = canaryErrorRate }, cts.Token))).ToList();
            var prometheus = await PrometheusProcess.StartAsync(
                servers.Select((s, i) => new ScrapeTarget($"gruserver-{i}", s.MetricsPort, new Dictionary<string, string> { ["namespace"] = @namespace })).ToArray(), cts.Token);
            await prometheus.WaitForTargetsUpAsync(servers.Count, TimeSpan.FromSeconds(60), cts.Token);
            var load = new InferenceLoad(servers.Select(s => new Uri(s.BaseUrl, $"v2/models/{model}/infer")),
                GruTestModels.InferRequestJson(file.Spec, batch: 1, steps: 5), workersPerServer: 2, pause: TimeSpan.FromMilliseconds(70), maxDuration: TimeSpan.FromMinutes(5));
            return new TrackServers(servers, prometheus, load);
        }

        /// <summary>Waits until Prometheus holds <paramref name="scrapes"/> scrapes of every server that saw traffic.</summary>
        public async Task WaitForLoadedScrapesAsync(int scrapes)
        {
            using var http = new HttpClient { BaseAddress = Prometheus.Address, Timeout = TimeSpan.FromSeconds(5) };
            var query = Uri.EscapeDataString("min(count_over_time(gru_requests_total{code=\"200\"}[1m]))");
            var deadline = DateTime.UtcNow.AddSeconds(scrapes * 4 + 60);
            var last = "";
            while (DateTime.UtcNow < deadline)
            {
                using var doc = await http.GetFromJsonAsync<JsonDocument>($"api/v1/query?query={query}");
                var result = doc!.RootElement.GetProperty("data").GetProperty("result");
                last = result.GetRawText();
                if (result.GetArrayLength() == 1 && double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture) >= scrapes) return;
                await Task.Delay(500);
            }
            throw new TimeoutException($"Prometheus did not hold {scrapes} loaded scrapes per server in time: {last}; sent {_load.Sent}, failed {_load.Failed}");
        }

        public async ValueTask DisposeAsync()
        {
            await _load.DisposeAsync();
            await Prometheus.DisposeAsync();
            foreach (var server in _servers) await server.DisposeAsync();
        }
    }
}

/// <summary>The Prometheus-judged canary tests on LocalCluster.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class CanaryAnalysisOnPrometheusOnLocalClusterTests : CanaryAnalysisOnPrometheusTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.StartAsync();
}

/// <summary>The Prometheus-judged canary tests on a real kube-apiserver with kube-controller-manager.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class CanaryAnalysisOnPrometheusOnKubeApiServerTests(KubeApiServerFixture cluster) : CanaryAnalysisOnPrometheusTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.OnKubeApiServerAsync(cluster);
}
