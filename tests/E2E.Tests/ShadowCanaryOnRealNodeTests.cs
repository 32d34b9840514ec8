using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using E2E.Tests.Lane;
using static E2E.Tests.Lane.GruModelJson;
using GruDemo.Publishing;
using GruDemo.Story;
using k8s;
using TestSupport.ArgoCd;
using Xunit.Abstractions;

namespace E2E.Tests;

/// <summary>
/// The shadow step on the real node: a canary as fast and error-free as stable but computing something else (GRU gates
/// swapped, written by gru-model) is rolled back during its shadow step having answered no user, counted from its own
/// <c>source="live"</c> request counter in Prometheus; a canary whose weights were rounded to 8 bits passes the same
/// step with its measured divergence in status and is promoted.
/// </summary>
[Collection(RealNodeCollection.Name)]
public sealed class ShadowCanaryOnRealNodeTests(RealNodeLane lane, ITestOutputHelper output)
{
    private const string Model = CanaryStory.ModelName;
    private const string Ns = "e2e-shadow";

    /// <summary>The demo's v1 and two variants of it: the same shape and seed, so the same cost per request.</summary>
    private static readonly ModelVersion Reference = CanaryStory.V1 with { Tag = "shadow-v1" };
    private static readonly ModelVersion Swapped = Reference with { Tag = "shadow-swapped", Variant = "SwappedGates" };
    private static readonly ModelVersion Rounded = Reference with { Tag = "shadow-rounded", Variant = "Rounded8Bit" };

    [Fact]
    public async Task A_swapped_gates_canary_is_rolled_back_in_its_shadow_step_unseen_and_an_8_bit_one_is_promoted_with_its_divergence()
    {
        await using var cleanup = await lane.NamespaceAsync(Ns);
        try
        {
            await RunStoryAsync();
        }
        finally
        {
            // The GruModel first, and gone, before its namespace: the operator's finalizer writes an Event there.
            await lane.KubectlAsync(["delete", "grumodel", Model, "-n", Ns, "--ignore-not-found", "--wait=true", "--timeout=180s"], timeout: TimeSpan.FromMinutes(4));
        }
    }

    private async Task RunStoryAsync()
    {
        var story = Stopwatch.StartNew();
        var v1 = await PublishAsync(Reference);
        await lane.KubectlAsync(["apply", "-f", "-"], Manifest(v1.Source).ToJsonString());
        await RealNodeLane.UntilAsync(() => lane.GruModelAsync(Ns, Model), m => Phase(m) == "Healthy" && StableDigest(m) == v1.Digest,
            TimeSpan.FromMinutes(4), "v1 to serve", Describe);

        var service = await lane.Client.CoreV1.ReadNamespacedServiceAsync(Model, Ns);
        await using var load = ClusterIpLoad.Start(service.Spec.ClusterIP, Model, steps: 32, features: ModelVersion.InputSize, workers: 4, requestsPerSecond: 20);

        // Swapped gates: the shadow step's divergence check fails it before the canary has any weight.
        var swapped = await PublishAsync(Swapped);
        var started = story.Elapsed;
        await SetSourceAsync(swapped.Source);
        var rolledBack = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(Ns, Model),
            m => Phase(m) == "RolledBack" && m["status"]?["canary"] is null && LastOutcome(m) == "RolledBack",
            TimeSpan.FromMinutes(6), "the swapped-gates canary to be rolled back", Describe);
        output.WriteLine($"swapped gates rolled back {(story.Elapsed - started).TotalSeconds:0} s after the change; load {load.Answered} answered, {load.Errors} errors");
        var entry = rolledBack["status"]!["history"]!.AsArray()[0]!;
        Assert.Contains("divergence", entry.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(v1.Digest, StableDigest(rolledBack));

        // It answered copies only: its live counter (pre-created at 0, so scraped) never left 0, its mirror counter did.
        var revision = entry["revision"]!.GetValue<string>();
        Assert.Equal(0, await CanaryRequestsAsync(revision, "live"));
        Assert.True(await CanaryRequestsAsync(revision, "mirror") >= 30, "the swapped canary answered mirrored requests");

        // Events are written after the status that announces the rollback: wait for it rather than race it.
        await RealNodeLane.UntilAsync(
            async () => JsonNode.Parse(await lane.KubectlAsync(["get", "events", "-n", Ns, "--field-selector", $"involvedObject.kind=GruModel,involvedObject.name={Model}", "-o", "json"]))!["items"]!.AsArray(),
            items => items.Any(e => e!["reason"]!.GetValue<string>() == "RolledBack" && e["message"]!.GetValue<string>().Contains("divergence", StringComparison.Ordinal)),
            TimeSpan.FromMinutes(1), "a RolledBack Event naming divergence", items => items.ToJsonString());
        var yaml = await lane.KubectlAsync(["get", "grumodel", Model, "-n", Ns, "-o", "yaml"]);
        var health = await ArgoHealthCheck.EvaluateAsync(await File.ReadAllTextAsync(ArgoHealthCheck.ScriptPath), yaml, CancellationToken.None);
        Assert.Equal("Degraded", health.Status);
        Assert.Contains("divergence", health.Message, StringComparison.Ordinal);

        // Rounded to 8 bits: within tolerance in the shadow step (shown in status while it runs), then promoted.
        var rounded = await PublishAsync(Rounded);
        await SetSourceAsync(rounded.Source);
        var judged = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(Ns, Model),
            m => m["status"]?["canary"]?["step"]?.GetValue<int>() == 0 && Divergence(m)?["verdict"]?.GetValue<string>() == "Passed",
            TimeSpan.FromMinutes(5), "the 8-bit canary's divergence to pass in the shadow step", Describe);
        var divergence = Divergence(judged)!;
        output.WriteLine($"8-bit canary in its shadow step: divergence {divergence.ToJsonString()}");
        Assert.Contains("compared", divergence["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        // The share of compared requests within 5e-3 (8-bit rounding moves this model's outputs by at most 0.0025).
        Assert.InRange(double.Parse(divergence["value"]!.GetValue<string>(), CultureInfo.InvariantCulture), 0.95, 1.0);
        Assert.Equal(0, judged["status"]!["canary"]!["effectiveWeight"]!.GetValue<int>());
        var status = await lane.KubectlGruAsync(["status", Model, "-n", Ns]);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("divergence", status.Stdout, StringComparison.Ordinal);

        var promoted = await RealNodeLane.UntilAsync(() => lane.GruModelAsync(Ns, Model),
            m => Phase(m) == "Healthy" && m["status"]?["canary"] is null && StableDigest(m) == rounded.Digest && LastOutcome(m) == "Promoted",
            TimeSpan.FromMinutes(6), "the 8-bit canary to be promoted", Describe);
        Assert.Equal(rounded.Digest, StableDigest(promoted));
        Assert.True(load.Answered > 100, $"the load got {load.Answered} answers");
        output.WriteLine($"whole story {story.Elapsed.TotalSeconds:0} s; load {load.Answered} answered, {load.Errors} errors");
    }

    /// <summary>The most requests one canary revision counted with <paramref name="source"/>, from Prometheus; fails when
    /// no such series was ever scraped (no series must not pass as zero).</summary>
    private async Task<double> CanaryRequestsAsync(string revision, string source)
    {
        using var http = new HttpClient();
        var query = Uri.EscapeDataString(
            $"sum(max_over_time(gru_requests_total{{namespace=\"{Ns}\",track=\"canary\",revision=\"{revision}\",source=\"{source}\"}}[30m]))");
        var answer = JsonNode.Parse(await http.GetStringAsync(new Uri(lane.Prometheus, $"api/v1/query?query={query}")))!;
        var result = answer["data"]!["result"]!.AsArray();
        Assert.True(result.Count == 1, $"no {source} series of canary revision {revision} in Prometheus: {answer.ToJsonString()}");
        return double.Parse(result[0]!["value"]![1]!.GetValue<string>(), CultureInfo.InvariantCulture);
    }

    private async Task<PublishedModel> PublishAsync(ModelVersion version)
    {
        var publisher = new ModelPublisher(lane.Registry, Path.Combine(lane.WorkDirectory, "models", "shadow"), Path.Combine(lane.WorkDirectory, "gru-model.log"));
        return await publisher.PublishAsync(version, CancellationToken.None);
    }

    private async Task SetSourceAsync(string source) =>
        await lane.KubectlAsync(["patch", "grumodel", Model, "-n", Ns, "--type=merge", "-p", $"{{\"spec\":{{\"model\":{{\"source\":\"{source}\"}}}}}}"]);

    /// <summary>The demo's GruModel with a shadow first step, every request mirrored, and a divergence check: 95% of
    /// compared requests within 5e-3 (8-bit rounding moves this model's outputs by at most 0.0025, swapped gates by
    /// 0.014 at the median: GruModelVariantTests).</summary>
    private static JsonObject Manifest(string source)
    {
        var manifest = CanaryStory.Manifest(Ns, source);
        var canary = manifest["spec"]!["rollout"]!["canary"]!.AsObject();
        canary["mirrorSample"] = "1";
        canary["steps"] = new JsonArray(
            new JsonObject { ["shadow"] = true, ["setWeight"] = 0, ["pause"] = "20s" },
            new JsonObject { ["setWeight"] = 50, ["pause"] = "10s" });
        canary["analysis"]!["divergence"] = new JsonObject { ["maxAbs"] = "5e-3", ["within"] = "0.95", ["minArgMaxAgreement"] = "0.9" };
        return manifest;
    }

    private static JsonNode? Divergence(JsonObject model) =>
        model["status"]?["canary"]?["analysis"]?["lastRun"]?["metrics"]?.AsArray().FirstOrDefault(m => m?["name"]?.GetValue<string>() == "divergence");

}
