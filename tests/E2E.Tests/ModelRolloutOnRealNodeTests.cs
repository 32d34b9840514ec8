using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using E2E.Tests.Lane;
using static E2E.Tests.Lane.GruModelJson;
using GruDemo.Publishing;
using GruDemo.Story;
using k8s;
using k8s.Models;
using TestSupport;
using TestSupport.ArgoCd;
using Xunit.Abstractions;

namespace E2E.Tests;

/// <summary>
/// GruModels from oci:// on the real node: pods in containers from the gru-server image pull their model from the
/// lane's registry, pass their probes, serve the digest the operator pinned (checked over pod IPs) and answer through
/// the Service's ClusterIP; a canary is promoted and a slow one rolled back by analysis on Prometheus data scraped from
/// the pods; and what a user looks at afterwards (logs, Events, kubectl gru, Argo CD's health) says so.
/// </summary>
[Collection(RealNodeCollection.Name)]
public sealed class ModelRolloutOnRealNodeTests(RealNodeLane lane, ITestOutputHelper output)
{
    private const string Model = CanaryStory.ModelName;

    [Fact]
    public async Task A_model_from_oci_reaches_Ready_on_real_pods_serves_the_pinned_digest_and_answers_through_its_ClusterIP()
    {
        const string ns = "e2e-oci";
        await using var cleanup = await lane.NamespaceAsync(ns);
        var v1 = await PublishAsync(CanaryStory.V1, "oci");
        var clock = Stopwatch.StartNew();
        await lane.KubectlAsync(["apply", "-f", "-"], GruModel(ns, v1.Source).ToJsonString());

        var ready = await UntilReadyAsync(ns, v1.Digest, TimeSpan.FromMinutes(4));
        output.WriteLine($"GruModel applied → Ready with ModelVerified: {clock.Elapsed.TotalSeconds:0.0} s");

        var pods = (await lane.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"serving.gru.dev/model={Model}")).Items;
        Assert.Equal(2, pods.Count(OperatorInClusterTests.IsReady));
        foreach (var pod in pods)
        {
            var server = pod.Spec.Containers.Single(c => c.Name == "gru-server");
            Assert.Equal(lane.Image("gru-server"), server.Image); // the operator's default: the image built beside it, by digest
            Assert.NotNull(server.ReadinessProbe);
            Assert.NotNull(server.LivenessProbe);
            Assert.True(server.SecurityContext?.ReadOnlyRootFilesystem);
            Assert.All(pod.Status.ContainerStatuses, s => Assert.Equal(0, s.RestartCount));
            var created = pod.Metadata.CreationTimestamp!.Value;
            var readyAt = pod.Status.Conditions.Single(c => c.Type == "Ready").LastTransitionTime!.Value;
            output.WriteLine($"pod {pod.Metadata.Name}: created → Ready {(readyAt - created).TotalSeconds:0} s (image pull and model pull included), IP {pod.Status.PodIP}");
            Assert.StartsWith("10.88.", pod.Status.PodIP, StringComparison.Ordinal); // a real CNI address, not loopback
        }

        // EndpointSlices carry the real pod IPs (the process lane's loopback addresses were refused here).
        var slices = await lane.Client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: $"kubernetes.io/service-name={Model}");
        var addresses = slices.Items.SelectMany(s => s.Endpoints ?? []).Where(e => e.Conditions?.Ready == true).SelectMany(e => e.Addresses).Order().ToList();
        Assert.Equal(pods.Select(p => p.Status.PodIP).Order().ToList(), addresses);

        // Through the ClusterIP, as a client in the cluster: kube-proxy's rules pick a pod.
        var service = await lane.Client.CoreV1.ReadNamespacedServiceAsync(Model, ns);
        await using var load = ClusterIpLoad.Start(service.Spec.ClusterIP, Model, steps: 16, features: ModelVersion.InputSize, workers: 1, requestsPerSecond: 1);
        using var answer = await load.SendOnceAsync();
        var body = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.IsSuccessStatusCode, body);
        Assert.Equal(ModelVersion.Outputs, JsonNode.Parse(body)!["outputs"]![0]!["shape"]![1]!.GetValue<int>());
        // The model file the pods serve is the manifest's layer: its digest is what GruServer reports and verifies.
        using var metadata = new HttpClient();
        var served = JsonNode.Parse(await metadata.GetStringAsync($"http://{service.Spec.ClusterIP}:8080/v2/models/{Model}"))!;
        Assert.Equal(LayerDigest(ready), served["parameters"]!["digest"]!.GetValue<string>());

        output.WriteLine(await MemoryReportAsync(ns));
    }

    [Fact]
    public async Task A_canary_is_promoted_and_a_slow_one_rolled_back_on_Prometheus_data_and_every_view_says_so()
    {
        const string ns = "e2e-canary";
        await using var cleanup = await lane.NamespaceAsync(ns);
        var story = Stopwatch.StartNew();
        var v1 = await PublishAsync(CanaryStory.V1, "canary");
        await lane.KubectlAsync(["apply", "-f", "-"], GruModel(ns, v1.Source).ToJsonString());
        await UntilReadyAsync(ns, v1.Digest, TimeSpan.FromMinutes(4));
        var deployed = story.Elapsed;

        var service = await lane.Client.CoreV1.ReadNamespacedServiceAsync(Model, ns);
        // 32 steps a request: v1/v2 answer in about a millisecond, v3 (1024 hidden units × 3 layers) far above the 50 ms SLO,
        // with room for a busy 2-core machine (at 128 steps a fresh v2 pod measured 0.26 s p95 at load average 18 and was rolled back).
        await using var load = ClusterIpLoad.Start(service.Spec.ClusterIP, Model, steps: 32, features: ModelVersion.InputSize, workers: 6, requestsPerSecond: 30);

        var v2 = await PublishAsync(CanaryStory.V2, "canary");
        await SetSourceAsync(ns, v2.Source);
        var promoted = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model),
            m => Phase(m) == "Healthy" && m["status"]?["canary"] is null && StableDigest(m) == v2.Digest && LastOutcome(m) == "Promoted",
            TimeSpan.FromMinutes(5), "v2 to be promoted", Describe);
        var promotedAt = story.Elapsed;
        output.WriteLine($"v2 promoted after {(promotedAt - deployed).TotalSeconds:0} s of canary; load so far {load.Answered} answered, {load.Errors} errors");

        var v3 = await PublishAsync(CanaryStory.V3, "canary");
        await SetSourceAsync(ns, v3.Source);
        var rolledBack = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model),
            m => Phase(m) == "RolledBack" && m["status"]?["canary"] is null && LastOutcome(m) == "RolledBack",
            TimeSpan.FromMinutes(6), "v3 to be rolled back", Describe);
        output.WriteLine($"v3 rolled back after {(story.Elapsed - promotedAt).TotalSeconds:0} s; whole story {story.Elapsed.TotalSeconds:0} s");
        Assert.Equal(v2.Digest, StableDigest(rolledBack));
        var history = rolledBack["status"]!["history"]!.AsArray();
        Assert.Contains("latencyP95", history[0]!.ToJsonString(), StringComparison.Ordinal);

        // The numbers came from Prometheus scraping the pods: the canary's own series exist there.
        using var http = new HttpClient();
        var query = Uri.EscapeDataString($"sum(gru_requests_total{{namespace=\"{ns}\",track=\"canary\"}})");
        var promAnswer = await http.GetStringAsync(new Uri(lane.Prometheus, $"api/v1/query?query={query}"));
        Assert.Contains("\"result\":[{", promAnswer, StringComparison.Ordinal);

        // What an SRE looks at.
        var events = await lane.KubectlAsync(["get", "events", "-n", ns, "--field-selector", $"involvedObject.kind=GruModel,involvedObject.name={Model}", "-o", "json"]);
        var reasons = JsonNode.Parse(events)!["items"]!.AsArray().Select(e => e!["reason"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("Promoted", reasons);
        Assert.Contains("RolledBack", reasons);

        var stablePod = (await lane.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"serving.gru.dev/model={Model},serving.gru.dev/track=stable")).Items
            .First(OperatorInClusterTests.IsReady);
        var logs = await lane.KubectlAsync(["logs", "-n", ns, stablePod.Metadata.Name, "-c", "gru-server"]);
        Assert.Contains($"from {v2.Source.Split(':')[0]}", logs, StringComparison.Ordinal);
        Assert.Contains(v2.Digest, logs, StringComparison.Ordinal); // the pinned reference it was started with
        Assert.Contains($"(stable) ready: {LayerDigest(promoted)}", logs, StringComparison.Ordinal);

        var status = await lane.KubectlGruAsync(["status", Model, "-n", ns]);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("RolledBack", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("latencyP95", status.Stdout, StringComparison.Ordinal);

        var yaml = await lane.KubectlAsync(["get", "grumodel", Model, "-n", ns, "-o", "yaml"]);
        var health = await ArgoHealthCheck.EvaluateAsync(await File.ReadAllTextAsync(ArgoHealthCheck.ScriptPath), yaml, CancellationToken.None);
        Assert.Equal("Degraded", health.Status);
        Assert.Contains("latencyP95", health.Message, StringComparison.Ordinal);
        Assert.True(load.Answered > 100, $"the load got {load.Answered} answers");
    }

    private async Task<PublishedModel> PublishAsync(ModelVersion version, string repositoryPrefix)
    {
        var publisher = new ModelPublisher(lane.Registry, Path.Combine(lane.WorkDirectory, "models", repositoryPrefix), Path.Combine(lane.WorkDirectory, "gru-model.log"));
        return await publisher.PublishAsync(version, CancellationToken.None);
    }

    private async Task SetSourceAsync(string ns, string source) =>
        await lane.KubectlAsync(["patch", "grumodel", Model, "-n", ns, "--type=merge", "-p", $"{{\"spec\":{{\"model\":{{\"source\":\"{source}\"}}}}}}"]);

    private Task<JsonObject> UntilReadyAsync(string ns, string digest, TimeSpan timeout) =>
        RealNodeLane.UntilAsync(() => lane.GruModelAsync(ns, Model),
            m => Condition(m, "Ready")?["status"]?.GetValue<string>() == "True" && Condition(m, "ModelVerified")?["status"]?.GetValue<string>() == "True"
                && StableDigest(m) == digest,
            timeout, $"{ns}/{Model} to be Ready and verified on {digest}", Describe);

    // The demo's GruModel (CanaryStory), on any node: 2 replicas with one simulated GPU each, SLO p95 50 ms, steps 25% → 50%,
    // judged against the SLO only. Compared with stable, a fresh v2 pod's first requests (a cold process on the lane's
    // busy 2 cores, a few ms slower than a warm stable that had none slower) failed the step-long "worse than stable" tail
    // test in a clean-clone CI run although its p95 was below stable's; that comparison is proven by the analysis tests
    // on real Prometheus data. v3 is far above the SLO either way.
    private static JsonObject GruModel(string ns, string source)
    {
        var manifest = CanaryStory.Manifest(ns, source);
        manifest["spec"]!["rollout"]!["canary"]!["analysis"]!["compareToStable"] = false;
        return manifest;
    }

    private static JsonNode? Condition(JsonObject model, string type) =>
        model["status"]?["conditions"]?.AsArray().FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);

    private static string LayerDigest(JsonObject model) => model["status"]!["resolvedModel"]!["layerDigest"]!.GetValue<string>();

    // Resident memory of the node's own daemons and of the model's pods (cgroup v1 memory accounting under kubepods).
    private async Task<string> MemoryReportAsync(string ns)
    {
        static long Rss(int pid)
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }

        var report = new List<string>();
        foreach (var daemon in new[] { "kubelet", "containerd" })
        {
            var pid = Process.GetProcessesByName(daemon).FirstOrDefault(p => File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("gru-e2e-", StringComparison.Ordinal));
            report.Add($"{daemon} {(pid is null ? 0 : Rss(pid.Id)) / 1048576.0:0} MiB");
        }

        var pods = (await lane.Client.CoreV1.ListNamespacedPodAsync(ns, labelSelector: $"serving.gru.dev/model={Model}")).Items;
        foreach (var pod in pods)
        {
            var cgroup = Directory.EnumerateDirectories("/sys/fs/cgroup/memory", $"pod{pod.Metadata.Uid}", SearchOption.AllDirectories).FirstOrDefault();
            var bytes = cgroup is null ? 0 : long.Parse((await File.ReadAllTextAsync(Path.Combine(cgroup, "memory.usage_in_bytes"))).Trim(), CultureInfo.InvariantCulture);
            report.Add($"pod {pod.Metadata.Name} {bytes / 1048576.0:0} MiB");
        }

        return "memory: " + string.Join(", ", report);
    }
}
