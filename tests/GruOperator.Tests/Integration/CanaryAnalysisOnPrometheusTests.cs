using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using GruNodeAgent;
using GruOperator.Api;
using GruOperator.Domain.Analysis;
using GruOperator.Domain.Conditions;
using GruOperator.Domain.Rollout;
using GruOperator.Tests.RealCluster;
using GruOperator.Tests.Support;
using GruServing.Contract.Serving;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using TestSupport;

namespace GruOperator.Tests.Integration;

/// <summary>
/// The canary judged on real data: the node agent runs the operator's stable (revision 1) and canary (revision 2) pods as
/// real GruServer processes, a real Prometheus finds them through the agent's http_sd and scrapes them under load from the
/// test, and the operator runs its analysis against it. Short intervals: 1 s scrapes, a 4 s step and analysis interval.
/// </summary>
public abstract class CanaryAnalysisOnPrometheusTests
{
    private protected abstract Task<OperatorHarness> StartHarnessAsync();

    /// <summary>Where this lane's pods get addresses (127.0.0.N upwards): the two lanes run at once, each with its own range.</summary>
    private protected abstract int FirstPodAddress { get; }

    /// <summary>p95 under 100 ms, under 1% 5xx, at least 20 requests per window; one 50% step held 4 s; two failed runs roll back.</summary>
    private static GruModel Judged(string name, AgentPods pods, int[]? weights = null)
    {
        var model = Models.Cpu(name, pods.Namespace);
        model.Spec.Model = new ModelSpec { Name = name, Source = "file://" + pods.Stable.Path, Sha256 = pods.Stable.Sha256 };
        // Only this test's agent runs these pods, and it runs no one else's (see AgentPods).
        model.Spec.Serving.Tolerations = [new TolerationSpec { Key = AgentPods.TaintKey, Value = pods.Namespace, Effect = TaintEffect.NoSchedule }];
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
        await using var pods = await AgentPods.StartAsync(harness, FirstPodAddress, canaryFault: []);
        var metricsPort = FreePort.Next();
        await StartOperatorAsync(harness, pods.Prometheus, metricsPort);
        await StartCanaryAsync(harness, pods, "good");

        var promoted = await harness.WaitForStatusAsync(harness.Namespace, "good",
            m => m.Status!.Canary is null && m.Status.Stable!.Revision == "2" && m.Status.Phase == ModelPhase.Healthy, "revision 2 promoted");
        var entry = promoted.Status!.History![0];
        Assert.Equal((nameof(RolloutOutcome.Promoted), RolloutReasons.AnalysisPassed), (entry.Outcome, entry.Reason));
        var events = await Poll.UntilAsync<IReadOnlyList<k8s.Models.Corev1Event>>(async () => await harness.EventsAsync(harness.Namespace, "good"),
            es => es.Any(e => e.Reason == RolloutReasons.Promoted), OperatorHarness.Timeout, "a Promoted event");
        Assert.Contains(events, e => e.Reason == RolloutReasons.AnalysisRunPassed && e.Type == "Normal");
        Assert.DoesNotContain(events, e => e.Reason is RolloutReasons.AnalysisRunFailed or RolloutReasons.RolledBack);
        // The promotion reached real pods: the agent runs a ready stable pod of revision 2, serving the canary's model.
        var stablePods = await Poll.UntilAsync<IReadOnlyList<k8s.Models.V1Pod>>(async () => await harness.PodsAsync("good", "stable"),
            ps => ps.Any(p => p.Metadata.Labels[GruOperator.Serving.Labels.Revision] == "2" && p.Spec.NodeName == pods.NodeName
                && p.Status?.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true), OperatorHarness.Timeout, "a ready revision-2 stable pod on the agent's node");
        Assert.Contains(stablePods.First(p => p.Metadata.Labels[GruOperator.Serving.Labels.Revision] == "2").Spec.Containers[0].Args, a => a == pods.Canary.Sha256);

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
        await using var pods = await AgentPods.StartAsync(harness, FirstPodAddress, canaryFault: []);
        var first = await StartOperatorAsync(harness, pods.Prometheus);
        await StartCanaryAsync(harness, pods, "resumed", [25, 50]);

        // Step 1 passed on its analysis: the canary is at step 2.
        var before = await harness.WaitForStatusAsync(harness.Namespace, "resumed", m => m.Status!.Canary is { Step: 1 }, "the canary at step 2");
        await harness.StopOperatorAsync(first);
        await StartOperatorAsync(harness, pods.Prometheus);

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
    [InlineData("slow", ServerFlags.FaultLatency, "150ms", MetricNames.LatencyP95, "threshold 0.1")]
    [InlineData("erroring", ServerFlags.FaultErrorRate, "0.5", MetricNames.ErrorRate, "threshold 0.01")]
    public async Task ABadCanaryIsRolledBackWithTheFailingMetricNamedInTheEvent(string name, string faultFlag, string faultValue, string metric, string threshold)
    {
        await using var harness = await StartHarnessAsync();
        await using var pods = await AgentPods.StartAsync(harness, FirstPodAddress, canaryFault: [faultFlag, faultValue]);
        await StartOperatorAsync(harness, pods.Prometheus);
        await StartCanaryAsync(harness, pods, name);

        var rolledBack = await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.RolledBack, "phase RolledBack");
        Assert.Equal(RolloutReasons.AnalysisFailed, rolledBack.Status!.RolledBack!.Reason);
        Assert.Contains(metric, rolledBack.Status.RolledBack.Message, StringComparison.Ordinal);
        Assert.Equal(("1", "sha256:" + pods.Stable.Sha256), (rolledBack.Status.Stable!.Revision, rolledBack.Status.Stable.ModelDigest));
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
        await using var pods = await AgentPods.StartAsync(harness, FirstPodAddress, canaryFault: []);
        await StartOperatorAsync(harness, pods.Prometheus);
        await harness.CreateAsync(Judged("blind", pods));
        await harness.WaitForStatusAsync(harness.Namespace, "blind", m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");
        await pods.Prometheus.StopAsync();

        await harness.PatchSpecAsync(harness.Namespace, "blind", pods.CanaryPatch);

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

    /// <summary>Stable healthy on its agent pod, Prometheus holding a window of its loaded scrapes, then the model change.</summary>
    private static async Task StartCanaryAsync(OperatorHarness harness, AgentPods pods, string name, int[]? weights = null)
    {
        await harness.CreateAsync(Judged(name, pods, weights));
        await harness.WaitForStatusAsync(harness.Namespace, name, m => m.Status!.Phase == ModelPhase.Healthy, "stable healthy");
        await pods.WaitForLoadedScrapesAsync(8);
        await harness.PatchSpecAsync(harness.Namespace, name, pods.CanaryPatch);
    }

    /// <summary>
    /// A node agent of this test's own (the kubelet and scheduler of its pods), Prometheus discovering its pods through
    /// the agent's http_sd, the two model files (revision 1 and the canary's), and load on every ready pod of the test.
    /// </summary>
    private sealed class AgentPods : IAsyncDisposable
    {
        /// <summary>The node's taint: the real API server is shared, and this agent must not run other tests' pods.</summary>
        public const string TaintKey = "test.gru.dev/namespace";

        private readonly OperatorHarness _harness;
        private readonly NodeAgent _agent;
        private readonly string _directory;
        private readonly CancellationTokenSource _stop = new();
        private readonly Dictionary<string, InferenceLoad> _loads = [];
        private Task _loading = Task.CompletedTask;

        private AgentPods(OperatorHarness harness, NodeAgent agent, PrometheusProcess prometheus, string directory, GruModelFile stable, GruModelFile canary)
        {
            _harness = harness;
            _agent = agent;
            Prometheus = prometheus;
            _directory = directory;
            Stable = stable;
            Canary = canary;
        }

        public PrometheusProcess Prometheus { get; }

        public string Namespace => _harness.Namespace;

        /// <summary>The agent's node, the only one these tests' pods tolerate.</summary>
        public string NodeName => NodeOf(Namespace);

        /// <summary>Revision 1's model file.</summary>
        public GruModelFile Stable { get; }

        /// <summary>The canary's model: the same shape, other weights (so another sha256).</summary>
        public GruModelFile Canary { get; }

        /// <summary>The spec.model change that starts the canary.</summary>
        public object CanaryPatch => new { model = new { source = "file://" + Canary.Path, sha256 = Canary.Sha256 } };

        /// <param name="canaryFault">GruServer fault flags for canary-track pods only (empty: a healthy canary).</param>
        public static async Task<AgentPods> StartAsync(OperatorHarness harness, int firstPodAddress, IReadOnlyList<string> canaryFault)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            // file:// sources are paths in the server image, which on the agent is the host; not under /tmp, which the
            // operator's pods mount an emptyDir over.
            var directory = Path.Combine("/var/tmp", "gru-canary-analysis-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            async Task<GruModelFile> ModelAsync(int seed, string name)
            {
                var written = await GruTestModels.WriteAsync(GruTestModels.Small with { Seed = seed }, cts.Token);
                var path = Path.Combine(directory, name);
                File.Move(written.Path, path);
                return written with { Path = path };
            }

            var stable = await ModelAsync(7, "stable.onnx");
            var canary = await ModelAsync(8, "canary.onnx");

            // How a canary is made slow or failing: the GruModel API has no way to pass server flags (and gets none just for
            // tests), and both tracks run spec.serving.image, so the node maps the operator's server image to GruServer
            // with the fault flags added when its args say --track canary. The pods, their probes, discovery and scrapes
            // are the real ones; only the canary's server is told to misbehave, as a bad release would.
            var server = string.Join(' ', canaryFault.Select(a => $"'{a}'"));
            var wrapper = $"case \" $* \" in *' {ServerFlags.Track} canary '*) exec \"$@\" {server} ;; *) exec \"$@\" ;; esac";
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            var agent = await NodeAgent.StartAsync(harness.Client, new NodeAgentOptions
            {
                NodeName = NodeOf(harness.Namespace),
                Cpu = "4",
                Memory = "8Gi",
                FirstPodAddress = firstPodAddress,
                Taints = [$"{TaintKey}={harness.Namespace}:NoSchedule"],
                StateDirectory = Path.Combine(directory, "node"),
                HeartbeatInterval = TimeSpan.FromSeconds(2),
                UnschedulableRetry = TimeSpan.FromSeconds(1),
                RestartBackoff = TimeSpan.FromSeconds(1),
                MaxRestartBackoff = TimeSpan.FromSeconds(4),
                Images =
                [
                    new ImageMapping
                    {
                        Image = OperatorHarness.ServerImage.Split(':')[0],
                        Entrypoint = ["/bin/sh", "-c", wrapper, "gru-server", dotnet, GruServerProcess.LocateServerDll()],
                    },
                ],
            }, NullLoggerFactory.Instance, cts.Token);
            try
            {
                var prometheus = await PrometheusProcess.StartAsync([], [agent.DiscoveryUrl], cts.Token);
                var pods = new AgentPods(harness, agent, prometheus, directory, stable, canary);
                pods._loading = Task.Run(() => pods.LoadReadyPodsAsync(pods._stop.Token));
                return pods;
            }
            catch
            {
                await agent.DisposeAsync();
                throw;
            }
        }

        /// <summary>Waits until Prometheus holds <paramref name="scrapes"/> scrapes of every pod of the test that saw traffic.</summary>
        public async Task WaitForLoadedScrapesAsync(int scrapes)
        {
            using var http = new HttpClient { BaseAddress = Prometheus.Address, Timeout = TimeSpan.FromSeconds(5) };
            var query = Uri.EscapeDataString($"min(count_over_time(gru_requests_total{{code=\"200\",namespace=\"{Namespace}\"}}[1m]))");
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

            throw new TimeoutException($"Prometheus did not hold {scrapes} loaded scrapes per pod in time: {last}; loaded pods {string.Join(", ", _loads.Keys)}");
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loading;
            foreach (var load in _loads.Values) await load.DisposeAsync();
            await Prometheus.DisposeAsync();
            await _agent.DisposeAsync();
            _stop.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // A process still holding a file: /var/tmp is cleaned by the system.
            }
        }

        private static string NodeOf(string @namespace) => "canary-analysis-" + @namespace;

        /// <summary>Two workers per ready pod, as a Service would spread the model's traffic over both tracks.</summary>
        private async Task LoadReadyPodsAsync(CancellationToken cancellationToken)
        {
            var request = GruTestModels.InferRequestJson(Stable.Spec, batch: 1, steps: 5);
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var pods = await _harness.Client.CoreV1.ListNamespacedPodAsync(Namespace, cancellationToken: cancellationToken);
                    foreach (var pod in pods.Items)
                    {
                        var ready = pod.Status?.Conditions?.Any(c => c is { Type: "Ready", Status: "True" }) == true;
                        string? model = null;
                        pod.Metadata.Labels?.TryGetValue(GruOperator.Serving.Labels.Model, out model);
                        if (!ready || model is null || pod.Status!.PodIP is not { } ip || _loads.ContainsKey(pod.Metadata.Name)) continue;
                        _loads[pod.Metadata.Name] = new InferenceLoad([new Uri($"http://{ip}:{GruOperator.Serving.ServingWorkloadBuilder.HttpPort}/v2/models/{model}/infer")],
                            request, workersPerServer: 2, pause: TimeSpan.FromMilliseconds(70), maxDuration: TimeSpan.FromMinutes(5));
                    }

                    await Task.Delay(500, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (k8s.Autorest.HttpOperationException)
                {
                    // A lost list is retried on the next round.
                }
            }
        }
    }
}

/// <summary>The Prometheus-judged canary tests on LocalCluster, the node agent running the pods.</summary>
[Collection(IntegrationCollection.Name)]
public sealed class CanaryAnalysisOnPrometheusOnLocalClusterTests : CanaryAnalysisOnPrometheusTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.StartAsync(autoReadyPods: false);

    private protected override int FirstPodAddress => 60;
}

/// <summary>The Prometheus-judged canary tests on a real kube-apiserver with kube-controller-manager, the node agent running the pods.</summary>
[Collection(KubeApiServerCollection.Name)]
public sealed class CanaryAnalysisOnPrometheusOnKubeApiServerTests(KubeApiServerFixture cluster) : CanaryAnalysisOnPrometheusTests
{
    private protected override Task<OperatorHarness> StartHarnessAsync() => OperatorHarness.OnKubeApiServerAsync(cluster, autoReadyPods: false);

    private protected override int FirstPodAddress => 160;
}
